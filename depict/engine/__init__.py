from .dist import setup_cpu_distributed
from .hooks import SegDataCheckHook
from .optim_wrapper import AutocastOptimWrapper
from .optimizers import ViTLayerDecayOptimWrapperConstructor
from .preflight import check_cfg_options, check_data_roots, check_dataset_files
from .threads import available_cpus, cpu_threads_for, setup_cpu_threads
from .vis_backends import TensorboardIfInstalledVisBackend

__all__ = [
    'AutocastOptimWrapper', 'SegDataCheckHook', 'TensorboardIfInstalledVisBackend',
    'ViTLayerDecayOptimWrapperConstructor', 'check_cfg_options', 'check_data_roots',
    'check_dataset_files', 'setup_cpu_distributed',
    'available_cpus', 'cpu_threads_for', 'setup_cpu_threads'
]
