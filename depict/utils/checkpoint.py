"""Safe checkpoint loading for mmengine checkpoints on torch >= 2.6.

torch >= 2.6 unpickles with ``weights_only=True``: only tensors, containers and
allow-listed globals may appear in a file. A full mmengine checkpoint also holds
the message hub (``HistoryBuffer`` objects wrapping numpy arrays, numpy scalars
such as the ``eta`` float64), so ``load_from``, ``--resume`` and ``tools/test.py``
fail out of the box. This module

* allow-lists exactly those globals (:data:`CHECKPOINT_GLOBALS`), never turning
  the check off;
* makes ``HistoryBuffer`` pickle through its constructor. By default it pickles
  its table of bound statistics methods, which pickle writes as
  ``builtins.getattr(HistoryBuffer, 'mean')``; ``getattr`` is a classic pickle
  gadget and must not be allow-listed, so checkpoints written with depict
  imported do not contain it;
* replaces mmengine's local-file loader with one that loads with
  ``weights_only=True`` explicitly and, when a file holds any other global,
  refuses it with an error naming the global(s).
"""
import os.path as osp
import pickle
import re
from typing import Callable, Optional, Union

import torch

__all__ = ['CHECKPOINT_GLOBALS', 'UnsafeCheckpointError', 'install_safe_checkpoint_loading',
           'load_local_checkpoint']


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint pickles a global that is not on the allow-list."""


def _checkpoint_globals() -> list[Union[Callable, tuple[Callable, str]]]:
    import numpy as np
    from mmengine.logging import HistoryBuffer

    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    reconstruct, scalar = multiarray._reconstruct, multiarray.scalar
    # numpy 2 rebuilds a dtype as an instance of its DType class: the numeric ones.
    numeric_dtypes = sorted({type(np.dtype(code)) for code in '?bhilqBHILQefdgFDG'},
                            key=lambda cls: cls.__name__)
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        *numeric_dtypes,
        reconstruct,
        scalar,
        # A 0-length numpy buffer is pickled (protocol 2) as ``bytes()``.
        bytes,
        # The same callables as named by numpy 1.x, so that checkpoints written
        # with numpy 1 load under numpy 2 and vice versa.
        (reconstruct, 'numpy.core.multiarray._reconstruct'),
        (scalar, 'numpy.core.multiarray.scalar'),
        (reconstruct, 'numpy._core.multiarray._reconstruct'),
        (scalar, 'numpy._core.multiarray.scalar'),
    ]


#: Globals allow-listed for ``weights_only`` loading: what mmengine 0.10.7
#: checkpoints contain (message hub and numpy values), nothing else.
CHECKPOINT_GLOBALS: list = []


def _qualname(obj: Union[Callable, tuple[Callable, str]]) -> str:
    if isinstance(obj, tuple):
        return obj[1]
    return f'{obj.__module__}.{obj.__qualname__}'


def _reduce_history_buffer(buffer):
    # Rebuild through the constructor: the pickle then names only HistoryBuffer
    # and numpy arrays, not the bound statistics methods (see module docstring).
    return (type(buffer), (buffer._log_history, buffer._count_history,
                           buffer.max_length))


#: Folder names that hold pretrained backbones (``data/pretrain/`` in the configs).
PRETRAIN_DIRS = ('pretrain', 'pretrained')


def _missing_checkpoint_message(filename: str) -> str:
    """What to do about a missing file; for a pretrained backbone, how to make it."""
    parts = osp.normpath(filename).split(osp.sep)
    if not any(part in PRETRAIN_DIRS for part in parts[:-1]):
        return (f'checkpoint {filename} can not be found: check the path '
                '(load_from, --resume or the CHECKPOINT argument)')
    # The configs name the file after the timm model it is converted from,
    # e.g. vit_base_patch16_384.augreg_in21k_ft_in1k.pth.
    timm_name = osp.splitext(parts[-1])[0]
    where = ''
    try:  # timm knows where the weights are published; optional, never fails the error
        import timm
        cfg = timm.models.get_pretrained_cfg(timm_name)
        if cfg is not None:
            hub = f'https://huggingface.co/{cfg.hf_hub_id}' if cfg.hf_hub_id else None
            sources = [hub, cfg.url]
            where = ' (' + ' or '.join(s for s in sources if s) + ')'
    except Exception:  # noqa: BLE001  unknown name or old timm: the message still helps
        pass
    return (
        f'pretrained weights {filename} can not be found (resolved from {osp.abspath(".")}). '
        f'The config expects the timm model {timm_name} converted to mmseg\'s '
        'VisionTransformer keys. Convert it with\n'
        f'    python tools/model_converters/vit2mmseg.py timm:{timm_name} {filename}\n'
        'which downloads the weights through timm, or, from a file you downloaded'
        f'{where}:\n'
        f'    python tools/model_converters/vit2mmseg.py /path/to/downloaded/file {filename}\n'
        'See docs/tools.md ("Pretrained weights"). To train from scratch instead, '
        'set --cfg-options model.pretrained=None.')


def load_local_checkpoint(filename: str, map_location: Optional[Union[str, Callable]] = None):
    """Loads a local checkpoint with ``weights_only=True``.

    Registered as mmengine's loader for local paths, so every mmengine and
    mmseg entry point (``load_from``, ``resume``, ``init_model``) goes through it.

    Raises:
        FileNotFoundError: ``filename`` does not exist. For a file under a
            ``pretrain`` folder the message gives the converter command that
            writes it (the timm model name is the file name).
        UnsafeCheckpointError: the file pickles a global outside
            :data:`CHECKPOINT_GLOBALS`; the message names it.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(_missing_checkpoint_message(filename))
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        try:
            found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
        except Exception:  # legacy (non-zip) format: fall back to torch's message
            found = []
        allowed = {_qualname(obj) for obj in CHECKPOINT_GLOBALS}
        foreign = sorted(name for name in found if name not in allowed)
        if not foreign:  # e.g. an instance of a class that is not allow-listed
            foreign = re.findall(r"GLOBAL ([\w.]+)|got <class '([\w.]+)'>", str(err))
            foreign = sorted({a or b for a, b in foreign})
        names = ', '.join(foreign) if foreign else 'objects outside the allow-list'
        raise UnsafeCheckpointError(
            f'Refusing to load {filename}: it pickles {names}, which is not on the '
            'allow-list of globals found in mmengine checkpoints (weights_only=True). '
            'If you trust this file, re-save only its tensors, e.g. '
            "torch.save({'state_dict': ckpt['state_dict'], 'meta': {}}, path) after "
            'loading it yourself with weights_only=False.') from err


def install_safe_checkpoint_loading() -> None:
    """Allow-lists :data:`CHECKPOINT_GLOBALS` and registers the local loader."""
    import copyreg

    from mmengine.logging import HistoryBuffer
    from mmengine.runner import CheckpointLoader

    if not CHECKPOINT_GLOBALS:
        CHECKPOINT_GLOBALS.extend(_checkpoint_globals())
    if hasattr(torch.serialization, 'add_safe_globals'):  # torch >= 2.4
        torch.serialization.add_safe_globals(CHECKPOINT_GLOBALS)
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
