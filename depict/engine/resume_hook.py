"""Exact resume: random-number states and the data order in our checkpoints.

mmengine's checkpoint holds the weights, optimizer, schedulers and message
hub, but not the random-number generators: a run resumed at iteration N draws
other dropout masks (and, with in-process data loading, other augmentations)
than the uninterrupted run, so the two diverge from the first resumed
iteration. :class:`ResumeStateHook` closes the gap:

* on save it stores the generators of Python's ``random``, numpy, torch (CPU)
  and torch CUDA (every device, when CUDA is in use) and the train sampler's
  settings (type, seed, shuffle, batch size, world size) with its position
  (samples drawn per process);
* on resume it restores the generators right before the first new batch is
  drawn. mmengine's ``IterBasedTrainLoop`` reaches the sampler's position by
  drawing (and discarding) the first N batches again, which also advances
  the data workers' generators exactly as in the first run; the draws in
  the main process are undone by the restore. The sampler's seed is the
  checkpoint's (``tools/train.py --resume`` takes the seed from it) and a
  change of batch size, world size or shuffling is reported, since the
  batches would then not follow the first run;
* validation during training leaves the generators as it found them, so the
  training trajectory does not depend on where validation happens (the
  checkpoint of iteration N is written before the validation of iteration N);
* checkpoints hold plain values only (the message hub's ``HistoryBuffer`` and
  numpy scalars become lists, floats and ints): they load with
  ``torch.load(path, weights_only=True)`` and no allow-list, e.g. in plain
  mmengine/mmseg or other tools. Old checkpoints (with ``HistoryBuffer`` and
  numpy values) still load through :mod:`depict.compat.safe_unpickling`.

Exactness holds for one process; with several, each process keeps its own
generators and only the main process's are saved (restored on every process
only when the world size is 1).
"""
import logging
import random
from typing import Any, Callable, Optional

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer, print_log
from mmseg.registry import HOOKS

__all__ = ['ResumeStateHook', 'capture_rng_state', 'restore_rng_state', 'to_plain',
           'from_plain']

#: Key of our state in a checkpoint (mmengine ignores unknown top-level keys).
STATE_KEY = 'resume_state'
_BUFFER_TAG = '__HistoryBuffer__'


def capture_rng_state() -> dict:
    """The states of every generator a training step draws from, as plain values."""
    version, mt_state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=[version, list(mt_state), gauss],
        numpy=dict(kind=kind, keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                   has_gauss=int(has_gauss), cached_gaussian=float(cached)),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Sets the generators to a state from :func:`capture_rng_state`."""
    version, mt_state, gauss = state['python']
    random.setstate((version, tuple(mt_state), gauss))
    numpy_state = state['numpy']
    np.random.set_state((numpy_state['kind'], numpy_state['keys'].numpy().astype(np.uint32),
                         numpy_state['pos'], numpy_state['has_gauss'],
                         numpy_state['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        if len(state['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state['cuda'])
        else:
            print_log(f'resume: the checkpoint has {len(state["cuda"])} CUDA generator states '
                      f'for {torch.cuda.device_count()} devices; CUDA generators not restored',
                      logger='current', level=logging.WARNING)


def to_plain(obj: Any) -> Any:
    """``obj`` with ``HistoryBuffer`` and numpy values as plain Python / tensors."""
    if isinstance(obj, HistoryBuffer):
        return {_BUFFER_TAG: dict(log_history=to_plain(obj._log_history),
                                  count_history=to_plain(obj._count_history),
                                  max_length=obj.max_length)}
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):  # dict subclasses (ConfigDict...) would need an allow-list
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, '_fields'):
        return tuple(to_plain(v) for v in obj)
    return obj


def from_plain(obj: Any) -> Any:
    """Undoes :func:`to_plain` for the message hub (its buffers become ``HistoryBuffer``)."""
    if isinstance(obj, dict):
        if set(obj) == {_BUFFER_TAG}:
            data = obj[_BUFFER_TAG]
            return HistoryBuffer(data['log_history'], data['count_history'], data['max_length'])
        return {k: from_plain(v) for k, v in obj.items()}
    return obj


class _RestoreBeforeNextBatch:
    """Stands in for the loop's data iterator until the first new batch.

    ``IterBasedTrainLoop.run`` calls ``next`` N times to skip the batches
    already trained on, then once per iteration; right before the (N+1)-th
    call the generators are set to the saved state and the loop gets its own
    iterator back.
    """

    def __init__(self, loop, skip: int, restore: Callable[[], None]) -> None:
        self._loop, self._inner = loop, loop.dataloader_iterator
        self._skip, self._restore, self._calls = skip, restore, 0

    def __iter__(self):
        return self

    def __next__(self):
        if self._calls == self._skip:
            self._restore()
            self._loop.dataloader_iterator = self._inner
        self._calls += 1
        return next(self._inner)


@HOOKS.register_module()
class ResumeStateHook(Hook):
    """Saves and restores what an exact resume needs (see the module docstring)."""
    # Last in `before_val`/`after_val`: the generators are restored after
    # every other hook has run.
    priority = 'LOWEST'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None
        self._before_val: Optional[dict] = None

    # -- saving ------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        iteration = checkpoint.get('meta', {}).get('iter', runner.iter + 1)
        checkpoint[STATE_KEY] = dict(version=1, rng=capture_rng_state(),
                                     sampler=self._sampler_state(runner, iteration))
        for key in list(checkpoint):
            if key not in ('state_dict', STATE_KEY):  # tensors already; keep them as they are
                checkpoint[key] = to_plain(checkpoint[key])

    @staticmethod
    def _sampler_state(runner, iteration: int) -> dict:
        loader = runner.train_dataloader
        sampler = getattr(loader, 'sampler', None)
        batch_size = getattr(loader, 'batch_size', None)
        return dict(type=type(sampler).__name__, seed=getattr(sampler, 'seed', None),
                    shuffle=getattr(sampler, 'shuffle', None), batch_size=batch_size,
                    world_size=get_world_size(),
                    position=None if batch_size is None else iteration * batch_size)

    # -- loading -----------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Checkpoints written with this hook: the message hub back to HistoryBuffers.
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = from_plain(checkpoint['message_hub'])
        if getattr(runner, '_resume', False):
            self._pending = checkpoint.get(STATE_KEY)
            if self._pending is None:
                print_log('resume: the checkpoint holds no random-number states (written '
                          'without ResumeStateHook); the run continues, but not exactly as '
                          'the uninterrupted one would.', logger='current',
                          level=logging.WARNING)

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        self._check_sampler(runner, state['sampler'])
        loop = runner.train_loop
        if get_world_size() > 1:
            print_log('resume: random-number states are restored for single-process runs '
                      'only', logger='current', level=logging.WARNING)
            return
        if not hasattr(loop, 'dataloader_iterator'):  # epoch-based loops: restore now
            restore_rng_state(state['rng'])
            return
        loop.dataloader_iterator = _RestoreBeforeNextBatch(
            loop, loop.iter, lambda: restore_rng_state(state['rng']))

    @staticmethod
    def _check_sampler(runner, saved: dict) -> None:
        current = ResumeStateHook._sampler_state(runner, runner.iter)
        changed = [f'{key} {saved.get(key)} -> {current[key]}'
                   for key in ('type', 'seed', 'shuffle', 'batch_size', 'world_size')
                   if saved.get(key) != current[key]]
        if changed:
            print_log('resume: the training data are drawn differently from the run being '
                      'resumed (' + ', '.join(changed) + '): the batches after the resume '
                      'will not be those of the uninterrupted run.', logger='current',
                      level=logging.WARNING)

    # -- validation leaves the generators as it found them ------------------
    def before_val(self, runner) -> None:
        self._before_val = capture_rng_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            restore_rng_state(self._before_val)
            self._before_val = None
