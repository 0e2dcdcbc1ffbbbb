"""Utilities that must not import mmseg's models (they run before it)."""
# Bound explicitly: the startup hook (depict_mmcv_hook) may have loaded this
# module before the package, and then the import system does not set it here.
from . import mmcv_ops  # noqa: F401
