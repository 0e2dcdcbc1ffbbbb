from .dist import setup_cpu_distributed
from .hooks import SegDataCheckHook
from .optim_wrapper import AutocastOptimWrapper
from .optimizers import ViTLayerDecayOptimWrapperConstructor
from .preflight import check_data_roots
from .vis_backends import TensorboardIfInstalledVisBackend

__all__ = [
    'AutocastOptimWrapper', 'SegDataCheckHook', 'TensorboardIfInstalledVisBackend',
    'ViTLayerDecayOptimWrapperConstructor', 'check_data_roots', 'setup_cpu_distributed'
]
