"""Checkpoints that load strictly, save atomically and resume from the right file.

(What a checkpoint file may contain, i.e. safe unpickling for every path scheme,
is :mod:`depict.compat.safe_unpickling`; this module checks that what was
loaded fits the model, and writes checkpoints.)

* :class:`StrictLoadHook`: evaluation, inference and ``--resume`` fail with the
  missing / unexpected / shape-mismatched keys listed when a checkpoint does
  not fit the model (mmengine loads such a checkpoint with one warning and the
  model runs half-random). ``load_from`` for fine-tuning fails the same way
  unless the config's ``load_cfg`` allows the differences by key prefix::

      # e.g. fine-tuning an ADE20K model on a dataset with other classes
      load_cfg = dict(allow_mismatched=['decode_head.'])

  ``load_cfg`` keys (each a list of state-dict key prefixes; ``''`` matches all):
  ``allow_missing`` (model keys absent from the checkpoint keep their
  initialisation), ``allow_unexpected`` (checkpoint keys the model lacks are
  dropped), ``allow_mismatched`` (keys whose shapes differ keep their
  initialisation). Pretrained backbones (``init_cfg``/``pretrained``) are not
  affected: they log missing/unexpected keys as before.
* :class:`AtomicCheckpointHook`: mmengine's ``CheckpointHook`` that writes a
  checkpoint to a temporary name and renames it when complete, removes old
  checkpoints (``max_keep_ckpts``) only afterwards, and writes
  ``last_checkpoint`` relative to the work dir.
* :func:`find_resume_checkpoint`: what bare ``--resume`` resumes from: the
  work dir's ``last_checkpoint`` (relative, or an old absolute path), falling
  back to the newest intact ``iter_*.pth`` when that file is truncated, and an
  error naming the work dir when there is nothing to resume.
"""
import logging
import os
import os.path as osp
import re
import zipfile
from collections import OrderedDict
from typing import Mapping, NamedTuple, Optional, Sequence

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmseg.registry import HOOKS

__all__ = [
    'AtomicCheckpointHook', 'CheckpointMismatchError', 'KeyReport', 'LOAD_CFG_KEYS',
    'StrictLoadHook', 'check_state_dict', 'configure_checkpointing', 'find_resume_checkpoint',
    'load_state_dict_strictly'
]

#: The keys of the config's ``load_cfg`` (fine-tuning from ``load_from``).
LOAD_CFG_KEYS = ('allow_missing', 'allow_unexpected', 'allow_mismatched')
#: At most this many keys per list in a message; the count of the rest follows.
_MAX_LISTED = 40


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's state dict does not fit the model."""


class KeyReport(NamedTuple):
    """How a checkpoint's state dict differs from a model's."""
    missing: list  # model keys the checkpoint lacks
    unexpected: list  # checkpoint keys the model lacks
    mismatched: list  # (key, checkpoint shape, model shape)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.mismatched)


def _bare_model(model: torch.nn.Module) -> torch.nn.Module:
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def _state_dict_of(checkpoint: Mapping) -> Mapping:
    state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint,
                                                                         Mapping) else None
    if not isinstance(state_dict, Mapping):
        raise CheckpointMismatchError(
            f'the checkpoint holds no state dict (got {type(state_dict).__name__})')
    # mmengine strips the prefix that DataParallel / DDP add before loading.
    return OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state_dict.items())


def compare_state_dict(model: torch.nn.Module, checkpoint: Mapping) -> KeyReport:
    """Missing, unexpected and shape-mismatched keys of ``checkpoint`` for ``model``."""
    ckpt = _state_dict_of(checkpoint)
    own = _bare_model(model).state_dict()
    # BN's counter is not a weight; mmengine ignores it too.
    missing = [k for k in own if k not in ckpt and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in ckpt if k not in own]
    mismatched = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in ckpt.items()
                  if k in own and hasattr(v, 'shape') and tuple(v.shape) != tuple(own[k].shape)]
    return KeyReport(missing, unexpected, mismatched)


def _listing(title: str, items: Sequence[str]) -> str:
    lines = [f'  {title} ({len(items)}):'] + [f'    {item}' for item in items[:_MAX_LISTED]]
    if len(items) > _MAX_LISTED:
        lines.append(f'    ... and {len(items) - _MAX_LISTED} more')
    return '\n'.join(lines)


def _describe(report: KeyReport) -> str:
    parts = []
    if report.missing:
        parts.append(_listing('missing in the checkpoint', report.missing))
    if report.unexpected:
        parts.append(_listing('unexpected (not in the model)', report.unexpected))
    if report.mismatched:
        parts.append(_listing('shape mismatch (checkpoint vs model)',
                              [f'{k}: {tuple(a)} vs {tuple(b)}' for k, a, b in report.mismatched]))
    return '\n'.join(parts)


def _not_allowed(keys: Sequence[str], prefixes: Sequence[str]) -> list:
    return [k for k in keys if not any(k.startswith(p) for p in prefixes)]


def check_state_dict(model: torch.nn.Module, checkpoint: Mapping, *, source: str, what: str,
                     load_cfg: Optional[Mapping] = None) -> KeyReport:
    """Raises unless ``checkpoint`` fits ``model`` (up to what ``load_cfg`` allows).

    Args:
        model: The model the checkpoint is for.
        checkpoint: A loaded checkpoint (``{'state_dict': ...}`` or a bare state dict).
        source: The checkpoint's path, for the message.
        what: Why it is loaded (``'evaluation'``, ``'--resume'``...), for the message.
        load_cfg: ``None`` (strict) or a dict with :data:`LOAD_CFG_KEYS`, each
            a list of key prefixes whose differences are allowed.

    Returns:
        The differences found (all allowed).

    Raises:
        CheckpointMismatchError: A difference that is not allowed; the message
            lists every key and says how to allow them when fine-tuning.
    """
    load_cfg = dict(load_cfg or {})
    unknown = sorted(set(load_cfg) - set(LOAD_CFG_KEYS))
    if unknown:
        raise ValueError(f'load_cfg: unknown key(s) {unknown}; valid keys: {list(LOAD_CFG_KEYS)}')
    prefixes = {}
    for key in LOAD_CFG_KEYS:
        value = load_cfg.get(key) or []
        prefixes[key] = [value] if isinstance(value, str) else list(value)
    report = compare_state_dict(model, checkpoint)
    refused = KeyReport(
        _not_allowed(report.missing, prefixes['allow_missing']),
        _not_allowed(report.unexpected, prefixes['allow_unexpected']),
        [m for m in report.mismatched if not any(m[0].startswith(p)
                                                 for p in prefixes['allow_mismatched'])])
    if refused:
        total = len(_state_dict_of(checkpoint))
        if what == 'load_from':
            fix = ('To fine-tune from it anyway, state in the config which key prefixes may '
                   'differ, e.g. load_cfg = dict(allow_mismatched=[\'decode_head.\']) when '
                   'the number of classes changes, or allow_missing / allow_unexpected = '
                   '[\'decode_head.\'] for another decoder\'s checkpoint (see docs/tools.md, '
                   '"Loading checkpoints").')
        else:
            fix = ('Check that the checkpoint was trained with this config (model, decoder, '
                   'num_classes).')
        raise CheckpointMismatchError(
            f'{what}: the checkpoint {source} does not fit the model ({total} tensors in the '
            f'checkpoint):\n{_describe(refused)}\n{fix}')
    if report:
        print_log(f'{what}: loaded {source} with differences allowed by load_cfg:\n'
                  f'{_describe(report)}', logger='current', level=logging.WARNING)
    return report


def load_state_dict_strictly(model: torch.nn.Module, checkpoint: Mapping, *, source: str,
                             what: str) -> None:
    """Checks (strictly, see :func:`check_state_dict`) and loads ``checkpoint`` into ``model``."""
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    check_state_dict(model, checkpoint, source=source, what=what)
    _load_checkpoint_to_model(_bare_model(model), checkpoint, strict=True)


@HOOKS.register_module()
class StrictLoadHook(Hook):
    """Checks every checkpoint the runner loads against the model, before it loads.

    Resuming (``--resume``) and evaluating (``tools/test.py``, ``runner.val``)
    are strict; ``load_from`` before training allows what the config's
    ``load_cfg`` allows (see the module docstring).
    """
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from mmengine.runner import BaseLoop
        source = runner._load_from or 'the checkpoint'
        if getattr(runner, '_resume', False):
            what, load_cfg = '--resume', None
        elif isinstance(getattr(runner, '_train_loop', None), BaseLoop):
            what, load_cfg = 'load_from', runner.cfg.get('load_cfg')
        else:
            what, load_cfg = 'evaluation', None
        check_state_dict(runner.model, checkpoint, source=source, what=what, load_cfg=load_cfg)


# ---------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------

def _write_atomically(path: str, text: str) -> None:
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose saves never leave a truncated or missing checkpoint.

    mmengine removes the oldest checkpoint (``max_keep_ckpts``) *before* writing
    the new one, and writes the new one in place: a save that fails (disk full,
    killed job) can leave a truncated newest file and one checkpoint fewer.
    Here the checkpoint is written to ``<name>.tmp`` and renamed when complete
    (a rename within a folder is atomic), old checkpoints are removed only
    after that, and ``last_checkpoint`` holds the path relative to the work dir
    (so a copied work dir resumes from its own files).
    """

    def _save_checkpoint_with_step(self, runner, step, meta):
        from mmengine.fileio import LocalBackend
        if not isinstance(self.file_backend, LocalBackend):
            # Object stores have no rename; their puts are atomic already.
            return super()._save_checkpoint_with_step(runner, step, meta)
        remove = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            # keep_ckpt_ids is a deque(maxlen=max_keep_ckpts): pop before appending.
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                remove.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        final = self.file_backend.join_path(self.out_dir, ckpt_filename)
        tmp = f'{final}.tmp'
        self.last_ckpt = final
        runner.message_hub.update_info('last_ckpt', final)
        try:
            runner.save_checkpoint(self.out_dir, osp.basename(tmp), self.file_client_args,
                                   save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                                   by_epoch=self.by_epoch, backend_args=self.backend_args,
                                   **self.args)
        except BaseException:
            if is_main_process() and osp.exists(tmp):
                os.remove(tmp)
            raise
        if not is_main_process():
            return
        os.replace(tmp, final)
        for old in remove:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
            if osp.isfile(path):
                os.remove(path)
        work_dir = osp.abspath(runner.work_dir)
        relative = osp.relpath(osp.abspath(final), work_dir)
        _write_atomically(osp.join(runner.work_dir, 'last_checkpoint'),
                          final if relative.startswith(os.pardir) else relative)


# ---------------------------------------------------------------------------
# Resuming
# ---------------------------------------------------------------------------

_STEP = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a complete torch (zip) checkpoint, or ``None``.

    Reads the file once (the zip's CRCs), which finds truncated and corrupted
    files alike.
    """
    if not osp.isfile(path):
        return 'does not exist'
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f'is truncated or not a torch checkpoint ({err})'
    return f'is corrupt (bad CRC in {bad})' if bad else None


def find_resume_checkpoint(work_dir: str) -> str:
    """The checkpoint that bare ``--resume`` resumes from.

    ``last_checkpoint`` names it: relative to ``work_dir`` as written by
    :class:`AtomicCheckpointHook`, or absolute as written by mmengine (then,
    if ``work_dir`` holds a file of the same name, e.g. in a copied work dir,
    that one). If that file is missing, truncated or corrupt, the newest intact
    ``iter_*.pth`` / ``epoch_*.pth`` is used, with a warning.

    Raises:
        FileNotFoundError: No checkpoint at all in ``work_dir`` (the message
            names it), or none that is intact (the message names each file).
    """
    named = None
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip() or None
    if named is not None and '://' in named:
        return named  # a URL or storage path: read through the safe scheme loaders
    if named is not None:
        if not osp.isabs(named):
            named = osp.join(work_dir, named)
        elif osp.dirname(osp.abspath(named)) != osp.abspath(work_dir):
            own = osp.join(work_dir, osp.basename(named))
            if osp.isfile(own):
                print_log(f'last_checkpoint names {named}, outside the work dir; resuming from '
                          f'the work dir\'s own {own}', logger='current', level=logging.WARNING)
                named = own
    steps = []
    if osp.isdir(work_dir):
        steps = sorted(((int(m.group(1)), osp.join(work_dir, name))
                        for name in os.listdir(work_dir) for m in [_STEP.match(name)] if m),
                       reverse=True)
    candidates = [named] if named else []
    candidates += [p for _, p in steps if not named or osp.abspath(p) != osp.abspath(named)]
    if not candidates:
        raise FileNotFoundError(
            f'--resume: no checkpoint to resume from in the work dir {osp.abspath(work_dir)} '
            '(no last_checkpoint file, no iter_*.pth). Drop --resume to start a new run, pass '
            '--resume PATH, or --work-dir the run to continue.')
    problems = []
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            if problems:
                print_log('--resume: ' + '; '.join(problems) + f'. Resuming from {path}, the '
                          'newest intact checkpoint, instead.', logger='current',
                          level=logging.WARNING)
            return path
        problems.append(f'{path} {problem}')
    raise FileNotFoundError('--resume: no intact checkpoint in the work dir '
                            f'{osp.abspath(work_dir)}: ' + '; '.join(problems))


def configure_checkpointing(cfg, resume: Optional[str] = None) -> None:
    """What our tools add to a config for checkpoints (train and test).

    * ``default_hooks.checkpoint``: mmengine's ``CheckpointHook`` becomes
      :class:`AtomicCheckpointHook` (same arguments);
    * ``custom_hooks``: :class:`StrictLoadHook` and
      :class:`~depict.engine.resume_hook.ResumeStateHook`, unless listed;
    * ``resume``: ``None`` (no resume), ``'auto'`` (bare ``--resume``: the
      work dir's checkpoint, see :func:`find_resume_checkpoint`) or a path.
      The checkpoint's seed becomes the run's seed so that the data order
      (sampler, workers) is the one of the run being resumed.
    """
    from depict.compat.safe_unpickling import check_all_schemes_safe
    check_all_schemes_safe()
    checkpoint_hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if checkpoint_hook is not None and checkpoint_hook.get('type') in ('CheckpointHook',
                                                                        CheckpointHook):
        checkpoint_hook['type'] = 'AtomicCheckpointHook'
    hooks = list(cfg.get('custom_hooks') or [])
    types = {hook.get('type') for hook in hooks}
    for name in ('StrictLoadHook', 'ResumeStateHook'):
        if name not in types:
            hooks.append(dict(type=name))
    cfg.custom_hooks = hooks
    if resume is None:
        return
    if resume == 'auto':
        resume = find_resume_checkpoint(cfg.work_dir)
    elif '://' not in resume and not osp.isfile(resume):
        raise FileNotFoundError(f'--resume checkpoint {resume} does not exist')
    cfg.resume = True
    cfg.load_from = resume
    seed = _checkpoint_seed(resume)
    randomness = dict(cfg.get('randomness') or {})
    if seed is not None and randomness.get('seed') != seed:
        if randomness.get('seed') is not None:
            print_log(f'--resume: using the checkpoint\'s seed {seed}, not the config\'s '
                      f'{randomness["seed"]}', logger='current', level=logging.WARNING)
        randomness['seed'] = seed
        cfg.randomness = randomness


def _checkpoint_seed(path: str) -> Optional[int]:
    if '://' in path:
        return None  # read once, by the runner
    try:  # mmap: only the pickled metadata is read, not the tensors
        meta = torch.load(path, map_location='cpu', weights_only=True, mmap=True).get('meta', {})
    except Exception:  # noqa: BLE001  the runner's load reports the problem properly
        return None
    seed = meta.get('seed')
    return int(seed) if seed is not None else None
