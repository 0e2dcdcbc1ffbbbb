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
* replaces every loader of mmengine's ``CheckpointLoader`` (local files,
  ``http(s)://``, ``torchvision://``, ``open-mmlab://``, ``mmcls://``,
  ``pavi://``, ``s3://``) with one that reads the bytes with
  ``weights_only=True`` explicitly and, when a file holds any other global
  (zip checkpoints, legacy torch files and raw pickles alike), refuses it with
  an error naming the global(s). So ``load_from``, ``--resume``,
  ``model.pretrained``, ``init_cfg=dict(type='Pretrained')``, ``init_model``
  and our tools all load safely, whatever the path's scheme.
"""
import io
import os
import os.path as osp
import pickle
import pickletools
import re
from typing import IO, Callable, Optional, Union

import torch

__all__ = ['CHECKPOINT_GLOBALS', 'UnsafeCheckpointError', 'check_all_schemes_safe',
           'install_safe_checkpoint_loading', 'load_checkpoint_safely', 'load_local_checkpoint']


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


_STRING_OPS = {'SHORT_BINUNICODE', 'BINUNICODE', 'BINUNICODE8', 'UNICODE', 'SHORT_BINSTRING',
               'BINSTRING', 'STRING'}


def _globals_in_pickles(f: IO[bytes], max_pickles: int = 4) -> list[str]:
    """Names of the globals in the first pickles of ``f``, read without running them.

    A legacy (non-zip) torch file is a sequence of pickles (magic number,
    protocol, system info, then the object); a raw ``pickle.dump`` file is one.
    ``torch.serialization.get_unsafe_globals_in_checkpoint`` reads zip files
    only, so for these the opcodes are scanned with :mod:`pickletools`.
    """
    names = []
    for _ in range(max_pickles):
        memo, last = {}, None  # memo: index -> string; last: string on top of the stack
        strings: list[str] = []
        try:
            for op, arg, _ in pickletools.genops(f):
                pushed = None
                if op.name == 'GLOBAL':  # protocol <= 3: 'module name'
                    names.append(arg.replace(' ', '.'))
                elif op.name == 'STACK_GLOBAL' and len(strings) >= 2:  # protocol >= 4
                    names.append(f'{strings[-2]}.{strings[-1]}')
                elif op.name in _STRING_OPS:
                    pushed = arg if isinstance(arg, str) else arg.decode('latin-1')
                elif op.name in ('PUT', 'BINPUT', 'LONG_BINPUT'):
                    memo[arg], pushed = last, last
                elif op.name == 'MEMOIZE':
                    memo[len(memo)], pushed = last, last
                elif op.name in ('GET', 'BINGET', 'LONG_BINGET'):
                    pushed = memo.get(arg)
                if pushed is not None and op.name not in ('PUT', 'BINPUT', 'LONG_BINPUT',
                                                          'MEMOIZE'):
                    strings.append(pushed)
                last = pushed
        except Exception:  # noqa: BLE001  end of the pickles (tensor bytes follow) or garbage
            break
    return sorted(set(names))


def _foreign_globals(f: Union[str, IO[bytes]], err: Exception) -> list[str]:
    """The globals in ``f`` outside :data:`CHECKPOINT_GLOBALS`, named for the error."""
    allowed = {_qualname(obj) for obj in CHECKPOINT_GLOBALS}
    found: list[str] = []
    try:
        if hasattr(f, 'seek'):
            f.seek(0)
        found = torch.serialization.get_unsafe_globals_in_checkpoint(f)
    except Exception:  # noqa: BLE001  not a zip file: a legacy torch file or a raw pickle
        try:
            if hasattr(f, 'seek'):
                f.seek(0)
                found = _globals_in_pickles(f)
            else:
                with open(f, 'rb') as stream:
                    found = _globals_in_pickles(stream)
        except OSError:
            found = []
    try:  # what torch's weights_only unpickler allows by itself (tensors, OrderedDict...)
        from torch import _weights_only_unpickler as unpickler
        allowed |= set(unpickler._get_allowed_globals())
    except Exception:  # noqa: BLE001  private API moved: the error message still applies
        pass
    foreign = sorted(name for name in found if name not in allowed)
    if not foreign:  # e.g. an instance of a class that is not allow-listed
        matches = re.findall(r"GLOBAL ([\w.]+)|got <class '([\w.]+)'>", str(err))
        foreign = sorted({a or b for a, b in matches})
    return foreign


def load_checkpoint_safely(f: Union[str, IO[bytes]], map_location=None, *,
                           source: Optional[str] = None):
    """Unpickles a checkpoint with ``weights_only=True`` and the exact allow-list.

    The one function through which every scheme below reads bytes: local files,
    downloads (``http(s)://`` and the model-zoo schemes that resolve to URLs),
    and byte buffers from storage backends. Zip checkpoints and legacy / raw
    pickles alike are refused when they name any global outside
    :data:`CHECKPOINT_GLOBALS`, and the error names it.

    Args:
        f: A local path or a binary file object.
        map_location: As for :func:`torch.load`.
        source: What to call the checkpoint in errors (the URL it came from).

    Raises:
        UnsafeCheckpointError: The checkpoint pickles a foreign global.
    """
    source = source or (f if isinstance(f, str) else '<buffer>')
    try:
        return torch.load(f, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        foreign = _foreign_globals(f, err)
        names = ', '.join(foreign) if foreign else 'objects outside the allow-list'
        raise UnsafeCheckpointError(
            f'Refusing to load {source}: it pickles {names}, which is not on the '
            'allow-list of globals found in mmengine checkpoints (weights_only=True). '
            'If you trust this file, re-save only its tensors, e.g. '
            "torch.save({'state_dict': ckpt['state_dict'], 'meta': {}}, path) after "
            'loading it yourself with weights_only=False.') from err


# ---------------------------------------------------------------------------
# Scheme loaders, registered with mmengine's CheckpointLoader.
#
# How the hole was found: mmengine.runner.checkpoint registers one loader per
# path scheme (CheckpointLoader._schemes). depict used to replace only the
# local one (prefix ''), so `load_from=https://...`, `model.pretrained=URL`,
# `init_cfg=dict(type='Pretrained', checkpoint=URL)` and a `last_checkpoint`
# file holding a URL reached mmengine's `load_from_http`, which calls
# `torch.hub.load_state_dict_from_url` whose `weights_only` defaults to False
# (also for a file already in the hub cache): a hostile file ran code. The
# model-zoo schemes (torchvision://, open-mmlab://, mmcls://) resolve to such
# URLs, and open-mmlab:// may also name a file under MMENGINE_HOME, which
# mmengine reads with a bare torch.load. Every scheme mmengine registers is
# therefore re-registered below (names kept as `load_from_*`, since mmengine
# logs the backend from the function name), and each reads its bytes through
# `load_checkpoint_safely`.
# ---------------------------------------------------------------------------

def load_from_local(filename: str, map_location: Optional[Union[str, Callable]] = None):
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
    return load_checkpoint_safely(filename, map_location)


#: The historical name of :func:`load_from_local`.
load_local_checkpoint = load_from_local


def _download_to_hub_cache(url: str, model_dir: Optional[str], progress: bool) -> str:
    """Where ``torch.hub.load_state_dict_from_url`` keeps ``url``; downloads it if absent."""
    from urllib.parse import urlparse
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.isfile(cached):
        # download_url_to_file writes a temporary file and renames it when complete.
        torch.hub.download_url_to_file(url, cached, None, progress=progress)
    return cached


def load_from_http(filename: str, map_location=None, model_dir: Optional[str] = None,
                   progress: bool = False):
    """Downloads an ``http(s)://`` checkpoint (rank 0 first) and loads it safely.

    The file is cached where torch hub caches it (``$TORCH_HOME/hub/checkpoints``)
    and a cached file is read through the same safe loader.
    """
    from mmengine.dist import get_dist_info
    rank, world_size = get_dist_info()
    cached = None
    if rank == 0:
        cached = _download_to_hub_cache(filename, model_dir, progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            cached = _download_to_hub_cache(filename, model_dir, progress)
    return load_checkpoint_safely(cached, map_location, source=f'{filename} (cached as {cached})')


def load_from_torchvision(filename: str, map_location=None):
    """``torchvision://NAME`` (or deprecated ``modelzoo://NAME``): its URL, loaded safely."""
    from mmengine.runner import checkpoint as mm_ckpt
    name = filename.split('://', 1)[1]
    return load_from_http(mm_ckpt.get_torchvision_models()[name], map_location=map_location)


def load_from_openmmlab(filename: str, map_location=None):
    """``open-mmlab://NAME``: a URL or a file under ``MMENGINE_HOME``, loaded safely."""
    from mmengine.runner import checkpoint as mm_ckpt
    name = filename.split('://', 1)[1]
    name = mm_ckpt.get_deprecated_model_names().get(name, name)
    url = mm_ckpt.get_external_models()[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location=map_location)
    path = osp.join(mm_ckpt._get_mmengine_home(), url)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} (for {filename}) can not be found.')
    return load_checkpoint_safely(path, map_location)


def load_from_mmcls(filename: str, map_location=None):
    """``mmcls://NAME``: its URL, loaded safely, backbone keys kept as mmengine does."""
    from mmengine.runner import checkpoint as mm_ckpt
    url = mm_ckpt.get_mmcls_models()[filename[len('mmcls://'):]]
    return mm_ckpt._process_mmcls_checkpoint(load_from_http(url, map_location=map_location))


def load_from_pavi(filename: str, map_location=None):
    """``pavi://PATH``: downloaded with pavi to a temporary folder, loaded safely."""
    import tempfile
    try:
        from pavi import modelcloud
    except ImportError as err:
        raise ImportError('Please install pavi to load checkpoint from modelcloud.') from err
    model = modelcloud.get(filename[len('pavi://'):])
    with tempfile.TemporaryDirectory() as tmp_dir:
        downloaded = osp.join(tmp_dir, model.name)
        model.download(downloaded)
        return load_checkpoint_safely(downloaded, map_location, source=filename)


def load_from_ceph(filename: str, map_location=None, backend: str = 'petrel'):
    """``s3://`` / ``petrel://``: bytes from the storage backend, loaded safely."""
    from mmengine.fileio import get_file_backend
    file_backend = get_file_backend(filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return load_checkpoint_safely(buffer, map_location, source=filename)


#: mmengine 0.10.7's schemes (mmengine/runner/checkpoint.py) and their safe loaders.
SAFE_SCHEME_LOADERS = {
    '': load_from_local,
    ('http://', 'https://'): load_from_http,
    ('modelzoo://', 'torchvision://'): load_from_torchvision,
    ('open-mmlab://', 'openmmlab://'): load_from_openmmlab,
    'mmcls://': load_from_mmcls,
    'pavi://': load_from_pavi,
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): load_from_ceph,
}


def install_safe_checkpoint_loading() -> None:
    """Allow-lists :data:`CHECKPOINT_GLOBALS` and registers the safe scheme loaders.

    Every scheme mmengine's ``CheckpointLoader`` knows is re-registered through
    its own API (``register_scheme(..., force=True)``); a scheme registered
    later by another package is checked at load time by
    :func:`check_all_schemes_safe` (called from our tools).
    """
    import copyreg

    from mmengine.logging import HistoryBuffer
    from mmengine.runner import CheckpointLoader

    if not CHECKPOINT_GLOBALS:
        CHECKPOINT_GLOBALS.extend(_checkpoint_globals())
    if hasattr(torch.serialization, 'add_safe_globals'):  # torch >= 2.4
        torch.serialization.add_safe_globals(CHECKPOINT_GLOBALS)
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    for prefixes, loader in SAFE_SCHEME_LOADERS.items():
        CheckpointLoader.register_scheme(prefixes=prefixes, loader=loader, force=True)


def check_all_schemes_safe() -> None:
    """Fails if a checkpoint scheme is served by a loader that is not ours.

    Another package imported after depict may register a scheme of its own
    with mmengine; its loader would bypass the allow-list.
    """
    from mmengine.runner import CheckpointLoader
    ours = set(SAFE_SCHEME_LOADERS.values())
    foreign = {prefix: loader for prefix, loader in CheckpointLoader._schemes.items()
               if loader not in ours}
    if foreign:
        raise RuntimeError(
            'checkpoint schemes served by loaders outside depict.compat.safe_unpickling (they may '
            'unpickle without the allow-list): ' + ', '.join(
                f'{prefix!r} -> {loader.__module__}.{loader.__name__}'
                for prefix, loader in foreign.items()))
