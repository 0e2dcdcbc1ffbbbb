"""depict: Transformer decoders for semantic segmentation on plain ViTs.

Importing this package (``custom_imports = dict(imports=['depict'])`` in a
config) first applies the compatibility layer, then registers depict's
models, datasets, hooks and metrics with mmseg's registries:

* :mod:`depict.compat.mmcv_ops`: pure-PyTorch ``mmcv.ops`` fallbacks where the
  compiled mmcv is missing (mmcv-lite), so that ``mmseg.models`` imports;
* :mod:`depict.compat.safe_unpickling`: ``weights_only`` checkpoint loading with
  an exact allow-list for mmengine checkpoints.
"""
from .compat import install_mmcv_ops_fallback, install_safe_checkpoint_loading
from .version import __version__

# Both must run before anything imports mmseg.models.
install_mmcv_ops_fallback()
install_safe_checkpoint_loading()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
