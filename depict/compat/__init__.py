"""The compatibility layer: what makes mmseg 1.2.2 run on current PyTorch.

It runs before anything imports mmseg's models, so nothing here imports them:

* :mod:`depict.compat.mmcv_ops`: pure-PyTorch ``mmcv.ops`` fallbacks where the
  compiled mmcv is missing (mmcv-lite), so that ``mmseg.models`` imports;
* :mod:`depict.compat.safe_unpickling`: ``weights_only`` checkpoint unpickling
  with an exact allow-list for mmengine checkpoints, for every path scheme;
* :mod:`depict.compat.startup_hook`: applies the ``mmcv.ops`` fallback to plain
  mmseg too, from the ``depict_mmcv_hook.pth`` startup file, without an
  ``import depict``.
"""
# Bound explicitly: the startup hook may have loaded this module before the
# package, and then the import system does not set it as an attribute here.
from . import mmcv_ops  # noqa: F401
from .mmcv_ops import install_mmcv_ops_fallback
from .safe_unpickling import install_safe_checkpoint_loading

__all__ = ['install_mmcv_ops_fallback', 'install_safe_checkpoint_loading']
