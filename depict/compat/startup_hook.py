"""The startup hook's logic: depict's ``mmcv.ops`` fallback without an ``import depict``.

mmsegmentation imports ``mmcv.ops`` unconditionally, so with ``mmcv-lite`` (no
compiled ``mmcv._ext``) a plain ``from mmseg.apis import init_model`` fails
unless depict was imported first. ``pip install`` puts ``depict_mmcv_hook.pth``
into site-packages; at startup Python runs its line, and the top-level
:mod:`depict_mmcv_hook` loads this module (without running ``depict/__init__``,
which imports mmseg's models) and calls :func:`install`. That registers
:class:`MmcvOpsFinder`, which only acts when something imports ``mmcv.ops``: if
the compiled ops are missing it hands out the stand-in of
:mod:`depict.compat.mmcv_ops`, otherwise it does nothing and the compiled
``mmcv.ops`` loads as usual.

This module must stay cheap and standalone: it imports nothing beyond ``sys``
at load time, nothing of depict but its sibling ``mmcv_ops.py`` (loaded by path
when needed), and any failure becomes a warning, never a crash.
"""
import sys

__all__ = ['MmcvOpsFinder', 'install']

_COMPAT_MODULE = 'depict.compat.mmcv_ops'


def _warn(message: str) -> None:
    import warnings
    warnings.warn(f'depict_mmcv_hook: {message}; import depict before mmseg to apply the '
                  'mmcv.ops fallback', RuntimeWarning, stacklevel=2)


def _load_compat_module():
    """:mod:`depict.compat.mmcv_ops`, loaded without running ``depict/__init__``.

    ``depict/__init__`` imports mmseg's models, which may be what is importing
    ``mmcv.ops`` right now, so the package cannot be imported here. The module
    is registered under its real name, so a later ``import depict`` finds and
    reuses this very module (and its fallback state).
    """
    module = sys.modules.get(_COMPAT_MODULE)
    if module is not None:
        return module
    import importlib.util
    import os.path as osp

    path = osp.join(osp.dirname(osp.abspath(__file__)), 'mmcv_ops.py')
    spec = importlib.util.spec_from_file_location(_COMPAT_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_COMPAT_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_COMPAT_MODULE]
        raise
    return module


class MmcvOpsFinder:
    """A meta path finder that answers only for ``mmcv.ops`` without ``mmcv._ext``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'mmcv.ops':
            return None
        try:
            import importlib.util
            # Runs after ``mmcv`` itself is imported (the parent of mmcv.ops).
            if importlib.util.find_spec('mmcv._ext') is not None:
                return None  # the compiled mmcv: leave it alone
            compat = _load_compat_module()
            return importlib.util.spec_from_loader(
                'mmcv.ops', compat.FallbackOpsLoader(), is_package=True)
        except Exception as err:  # never turn an import into a crash of ours
            _warn(f'could not apply the mmcv.ops fallback ({type(err).__name__}: {err})')
            return None

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'


def install() -> None:
    """Registers :class:`MmcvOpsFinder` once (called by :mod:`depict_mmcv_hook`)."""
    try:
        if not any(isinstance(f, MmcvOpsFinder) for f in sys.meta_path):
            # First, so that it answers before the path finder reaches
            # mmcv-lite's own mmcv/ops/__init__.py (which needs mmcv._ext).
            sys.meta_path.insert(0, MmcvOpsFinder())
    except Exception as err:
        _warn(f'could not register the import hook ({err})')
