"""Strict checkpoint loading, atomic saves and what bare --resume resumes from."""
import collections
import os
import os.path as osp
import shutil
import types
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import MODELS

from conftest import REPO, TOY_CONFIG
from depict.engine import (AtomicCheckpointHook, CheckpointMismatchError, check_state_dict,
                           configure_checkpointing, find_resume_checkpoint)
from depict.engine import checkpointing
from depict.engine.resume_hook import from_plain, to_plain

DEPICT_TOY = osp.join(REPO, 'configs', 'depict', 'depict-sa_vit-toy_1xb8-2k_toy-64x64.py')


def _model(config: str = TOY_CONFIG, **head):
    cfg = Config.fromfile(config)
    cfg.model.decode_head.update(head)
    init_default_scope('mmseg')
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def model():
    return _model()


def _checkpoint(model) -> dict:
    return {'meta': {}, 'state_dict': model.state_dict()}


# ------------------------------------------------------------ strict loading


def test_matching_checkpoint_passes(model):
    assert not check_state_dict(model, _checkpoint(model), source='x.pth', what='evaluation')


def test_other_num_classes_lists_the_mismatched_shapes(model):
    other = _checkpoint(_model(num_classes=5))
    with pytest.raises(CheckpointMismatchError) as err:
        check_state_dict(model, other, source='c5.pth', what='evaluation')
    message = str(err.value)
    assert 'c5.pth' in message and 'shape mismatch' in message
    assert 'decode_head.cls_emb: (1, 5, 64) vs (1, 8, 64)' in message


def test_renamed_keys_are_listed_as_missing_and_unexpected(model):
    ckpt = _checkpoint(model)
    ckpt['state_dict'] = {k.replace('backbone.', 'encoder.'): v
                          for k, v in ckpt['state_dict'].items()}
    with pytest.raises(CheckpointMismatchError) as err:
        check_state_dict(model, ckpt, source='renamed.pth', what='--resume')
    message = str(err.value)
    assert 'missing in the checkpoint' in message and 'backbone.patch_embed' in message
    assert 'unexpected (not in the model)' in message and 'encoder.patch_embed' in message
    assert message.startswith('--resume')


def test_another_decoders_checkpoint(model):
    with pytest.raises(CheckpointMismatchError, match=r'unexpected[\s\S]*decode_head\.'):
        check_state_dict(model, _checkpoint(_model(DEPICT_TOY)), source='sa.pth',
                         what='inference')


def test_empty_state_dict(model):
    with pytest.raises(CheckpointMismatchError, match=r'missing in the checkpoint \(\d+\)'):
        check_state_dict(model, {'state_dict': {}}, source='empty.pth', what='evaluation')


def test_load_from_fails_with_the_fix_unless_load_cfg_allows(model):
    other = _checkpoint(_model(num_classes=5))
    with pytest.raises(CheckpointMismatchError, match=r"load_cfg = dict\(allow_mismatched"):
        check_state_dict(model, other, source='c5.pth', what='load_from')
    report = check_state_dict(model, other, source='c5.pth', what='load_from',
                              load_cfg=dict(allow_mismatched=['decode_head.']))
    assert report.mismatched and all(k.startswith('decode_head.') for k, _, _ in
                                     report.mismatched)
    # Another decoder: its head dropped, ours initialised.
    sa = _checkpoint(_model(DEPICT_TOY))
    check_state_dict(model, sa, source='sa.pth', what='load_from',
                     load_cfg=dict(allow_missing=['decode_head.'],
                                   allow_unexpected=['decode_head.'],
                                   allow_mismatched=['decode_head.']))
    with pytest.raises(ValueError, match='allow_missing'):
        check_state_dict(model, sa, source='sa.pth', what='load_from',
                         load_cfg=dict(allow_mising=['decode_head.']))


def _runner(tmp_path, data_root, iters=1, **cfg_items):
    cfg = Config.fromfile(TOY_CONFIG)
    object.__setattr__(cfg, '_format_python_code', False)  # fast (see test_resume_exact)
    cfg.merge_from_dict({
        'train_cfg.max_iters': iters, 'train_cfg.val_interval': 100,
        'default_hooks.checkpoint.interval': 1, 'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': data_root, 'log_level': 'WARNING'})
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.work_dir = str(tmp_path / uuid.uuid4().hex)
    cfg.experiment_name = uuid.uuid4().hex
    resume = cfg_items.pop('resume', None)
    cfg.merge_from_dict(cfg_items)
    configure_checkpointing(cfg, resume=resume)
    return Runner.from_cfg(cfg)


def test_runner_load_from_and_resume_are_checked(tmp_path, tiny_toy_root):
    path = str(tmp_path / 'c5.pth')
    torch.save(_checkpoint(_model(num_classes=5)), path)
    with pytest.raises(CheckpointMismatchError, match='^load_from: '):
        _runner(tmp_path, tiny_toy_root, load_from=path).train()
    with pytest.raises(CheckpointMismatchError, match='^--resume: '):
        _runner(tmp_path, tiny_toy_root, resume=path).train()
    # Fine-tuning with the head re-initialised, as load_cfg states.
    runner = _runner(tmp_path, tiny_toy_root, load_from=path,
                     load_cfg=dict(allow_mismatched=['decode_head.']))
    runner.train()
    assert osp.isfile(osp.join(runner.work_dir, 'iter_1.pth'))


# ------------------------------------------------------------ saving


class _FailingRunner:
    """What AtomicCheckpointHook needs of a runner; the second save fails half-way."""

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.message_hub = MessageHub.get_instance(uuid.uuid4().hex)
        self.logger = types.SimpleNamespace(info=lambda *a, **k: None)
        self.saves = 0

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        self.saves += 1
        with open(osp.join(out_dir, filename), 'wb') as f:
            f.write(b'PK\x03\x04 half a checkpoint')
            if self.saves == 2:
                raise OSError(28, 'No space left on device')
        torch.save({'state_dict': {}}, osp.join(out_dir, filename))


@pytest.mark.parametrize('hook_cls', [AtomicCheckpointHook, CheckpointHook])
def test_failed_save_keeps_the_previous_checkpoint(tmp_path, hook_cls):
    runner = _FailingRunner(str(tmp_path))
    hook = hook_cls(interval=1, by_epoch=False, max_keep_ckpts=1)
    hook.before_train(runner)
    hook._save_checkpoint_with_step(runner, 1, {})
    with pytest.raises(OSError, match='No space'):
        hook._save_checkpoint_with_step(runner, 2, {})
    if hook_cls is CheckpointHook:  # mmengine: the previous one is gone, the new one truncated
        assert not osp.exists(tmp_path / 'iter_1.pth')
        return
    assert sorted(os.listdir(tmp_path)) == ['iter_1.pth', 'last_checkpoint']
    assert (tmp_path / 'last_checkpoint').read_text() == 'iter_1.pth'
    assert find_resume_checkpoint(str(tmp_path)) == osp.join(str(tmp_path), 'iter_1.pth')


def test_old_checkpoints_are_removed_after_the_new_one_is_complete(tmp_path):
    runner = _FailingRunner(str(tmp_path))
    runner.saves = -10  # no failure
    hook = AtomicCheckpointHook(interval=1, by_epoch=False, max_keep_ckpts=2)
    hook.before_train(runner)
    for step in (1, 2, 3):
        hook._save_checkpoint_with_step(runner, step, {})
    assert sorted(os.listdir(tmp_path)) == ['iter_2.pth', 'iter_3.pth', 'last_checkpoint']
    assert (tmp_path / 'last_checkpoint').read_text() == 'iter_3.pth'  # relative


# ------------------------------------------------------------ what --resume resumes


def _save(path) -> str:
    torch.save({'state_dict': {'w': torch.ones(1)}, 'meta': {'seed': 3}}, path)
    return str(path)


def test_bare_resume_without_checkpoint_names_the_work_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match=f'{tmp_path}.*Drop --resume'):
        find_resume_checkpoint(str(tmp_path))


def test_truncated_newest_checkpoint_falls_back_and_says_so(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(checkpointing, 'print_log', lambda msg, **kwargs: logged.append(msg))
    _save(tmp_path / 'iter_2.pth')
    data = open(_save(tmp_path / 'iter_4.pth'), 'rb').read()
    (tmp_path / 'iter_4.pth').write_bytes(data[:len(data) // 2])
    (tmp_path / 'last_checkpoint').write_text('iter_4.pth')
    assert find_resume_checkpoint(str(tmp_path)) == osp.join(str(tmp_path), 'iter_2.pth')
    assert 'iter_4.pth is truncated' in logged[0] and 'Resuming from' in logged[0]
    (tmp_path / 'iter_2.pth').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match=r'no intact checkpoint[\s\S]*iter_4[\s\S]*iter_2'):
        find_resume_checkpoint(str(tmp_path))


def test_copied_work_dir_resumes_from_its_own_files(tmp_path):
    original = tmp_path / 'run'
    original.mkdir()
    _save(original / 'iter_2.pth')
    # An old (mmengine) last_checkpoint: absolute, into the original work dir.
    (original / 'last_checkpoint').write_text(str(original / 'iter_2.pth'))
    copy = shutil.copytree(original, tmp_path / 'copy')
    assert find_resume_checkpoint(str(copy)) == osp.join(str(copy), 'iter_2.pth')
    assert find_resume_checkpoint(str(original)) == str(original / 'iter_2.pth')
    # Ours: relative.
    (copy / 'last_checkpoint').write_text('iter_2.pth')
    assert find_resume_checkpoint(str(copy)) == osp.join(str(copy), 'iter_2.pth')


def test_resume_takes_the_checkpoints_seed(tmp_path):
    cfg = Config(dict(work_dir=str(tmp_path), randomness=dict(seed=None)))
    configure_checkpointing(cfg, resume=_save(tmp_path / 'iter_2.pth'))
    assert cfg.resume and cfg.load_from.endswith('iter_2.pth') and cfg.randomness.seed == 3
    assert [h['type'] for h in cfg.custom_hooks] == ['StrictLoadHook', 'ResumeStateHook']


# ------------------------------------------------------------ plain checkpoint values


def test_message_hub_round_trip_and_old_buffers():
    hub = {'log_scalars': {'loss': HistoryBuffer([1.0, 0.5], [1, 1], 10)},
           'runtime_info': {'eta': __import__('numpy').float64(2.5),
                            'keep': collections.deque([1])}, 'resumed_keys': {}}
    plain = to_plain(hub)
    assert type(plain['runtime_info']['eta']) is float
    back = from_plain(plain)
    assert isinstance(back['log_scalars']['loss'], HistoryBuffer)
    loss = back['log_scalars']['loss']
    assert loss.mean() == 0.75 and loss.max_length == 10
    # A checkpoint written before: its HistoryBuffers pass through unchanged.
    assert from_plain(hub)['log_scalars']['loss'] is hub['log_scalars']['loss']
