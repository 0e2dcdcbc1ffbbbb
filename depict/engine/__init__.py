from .dist import setup_cpu_distributed
from .hooks import SegDataCheckHook
from .optimizers import ViTLayerDecayOptimWrapperConstructor
from .preflight import check_data_roots
from .vis_backends import TensorboardIfInstalledVisBackend

__all__ = ['SegDataCheckHook', 'check_data_roots', 'TensorboardIfInstalledVisBackend', 'setup_cpu_distributed',
           'ViTLayerDecayOptimWrapperConstructor']
