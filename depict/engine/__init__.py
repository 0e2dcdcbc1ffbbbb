from .checkpointing import (AtomicCheckpointHook, CheckpointMismatchError, StrictLoadHook,
                            check_state_dict, configure_checkpointing, find_resume_checkpoint,
                            load_state_dict_strictly)
from .eomt_hooks import EoMTMaskAnnealingHook
from .eomt_optim import EoMTOptimWrapperConstructor, TwoStageWarmupPolyLR
from .dist import setup_cpu_distributed, shutdown_distributed
from .hooks import SegDataCheckHook
from .optim_wrapper import AutocastOptimWrapper
from .optimizers import TrainableOptimWrapperConstructor, ViTLayerDecayOptimWrapperConstructor
from .preflight import check_cfg_options, check_data_roots, check_dataset_files
from .resume_hook import ResumeStateHook
from .threads import available_cpus, cpu_threads_for, setup_cpu_threads
from .vis_backends import TensorboardIfInstalledVisBackend

__all__ = [
    'AtomicCheckpointHook', 'AutocastOptimWrapper', 'CheckpointMismatchError',
    'EoMTMaskAnnealingHook', 'EoMTOptimWrapperConstructor', 'TwoStageWarmupPolyLR',
    'ResumeStateHook', 'SegDataCheckHook', 'StrictLoadHook', 'TensorboardIfInstalledVisBackend',
    'TrainableOptimWrapperConstructor', 'ViTLayerDecayOptimWrapperConstructor',
    'available_cpus', 'check_cfg_options', 'check_data_roots', 'check_dataset_files',
    'check_state_dict', 'configure_checkpointing', 'cpu_threads_for', 'find_resume_checkpoint',
    'load_state_dict_strictly', 'setup_cpu_distributed', 'setup_cpu_threads',
    'shutdown_distributed'
]
