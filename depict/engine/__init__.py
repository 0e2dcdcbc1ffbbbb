from .dist import setup_cpu_distributed
from .hooks import SegDataCheckHook
from .optim_wrapper import AutocastOptimWrapper
from .preflight import check_data_roots
from .vis_backends import TensorboardIfInstalledVisBackend

__all__ = [
    'AutocastOptimWrapper', 'SegDataCheckHook', 'check_data_roots', 'TensorboardIfInstalledVisBackend', 'setup_cpu_distributed']
