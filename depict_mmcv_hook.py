"""Startup shim: runs :mod:`depict.compat.startup_hook` from site-packages' ``.pth``.

``pip install`` puts ``depict_mmcv_hook.pth`` (one line, :data:`PTH_LINE`) into
site-packages, and ``site`` executes it at every interpreter start. A ``.pth``
line can only import a top-level module, and the ``depict`` package cannot be
imported at startup (its ``__init__`` imports mmseg's models), so this module
only loads ``depict/compat/startup_hook.py`` by path, under its real name, and
calls its ``install()``; the logic and its documentation live there. It imports
nothing beyond ``sys`` and ``importlib.util`` (already loaded at startup) and
never breaks the interpreter: any failure becomes a warning.
"""
import sys

__all__ = ['PTH_NAME', 'PTH_LINE', 'install']

#: The startup file that ``setup.py`` installs beside the packages.
PTH_NAME = 'depict_mmcv_hook.pth'
#: Its single line (``site`` executes lines that start with ``import``).
PTH_LINE = 'import depict_mmcv_hook; depict_mmcv_hook.install()\n'

_HOOK_MODULE = 'depict.compat.startup_hook'


def _load_hook_module():
    """:mod:`depict.compat.startup_hook`, loaded without running ``depict/__init__``."""
    module = sys.modules.get(_HOOK_MODULE)
    if module is not None:
        return module
    import importlib.util
    import os.path as osp

    package = importlib.util.find_spec('depict')  # finds, does not import
    if package is None or not package.submodule_search_locations:
        raise ImportError('the depict package is not importable')
    path = osp.join(list(package.submodule_search_locations)[0], 'compat', 'startup_hook.py')
    spec = importlib.util.spec_from_file_location(_HOOK_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_HOOK_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_HOOK_MODULE]
        raise
    return module


def install() -> None:
    """Registers depict's ``mmcv.ops`` finder once (called by the startup file)."""
    try:
        _load_hook_module().install()
    except Exception as err:
        import warnings
        warnings.warn(f'depict_mmcv_hook: could not register the import hook '
                      f'({type(err).__name__}: {err}); import depict before mmseg to apply '
                      'the mmcv.ops fallback', RuntimeWarning, stacklevel=2)
