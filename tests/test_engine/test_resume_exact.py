"""N straight iterations == N/2 + --resume N/2, bit for bit, with dropout on.

In-process runs of every decoder's toy config (4 iterations vs 2 + 2, with a
validation at iteration 2 in between), through the same
``configure_checkpointing`` that ``tools/train.py`` applies.
"""
import glob
import os.path as osp
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO
from depict.engine import configure_checkpointing

TOY_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*', '*_toy-64x64.py')))
# One per decoder (the representation-separation ablations share the repsep head).
DECODER_CONFIGS = [c for c in TOY_CONFIGS if 'ablation' not in c]
# Two decoders (DEPICT-SA, and mmseg's Segmenter head) in the default run; the others
# under the slow marker, to keep the suite near its 10-minute budget on 2 cores
# (`pytest -m slow tests/test_engine/test_resume_exact.py`: all six).
_DEFAULT_RUN = ('depict-sa_vit-toy', 'segmenter-mask_vit-toy')
DECODER_PARAMS = [c if osp.basename(c).startswith(_DEFAULT_RUN)
                  else pytest.param(c, marks=pytest.mark.slow) for c in DECODER_CONFIGS]


def _options(data_root: str, iters: int) -> dict:
    options = {
        'train_cfg.max_iters': iters, 'train_cfg.val_interval': 2,
        'default_hooks.checkpoint.interval': 2, 'default_hooks.checkpoint.max_keep_ckpts': 3,
        'default_hooks.logger.interval': 1, 'train_dataloader.batch_size': 2,
        # Dropout everywhere in the backbone: the masks must be drawn identically.
        'model.backbone.drop_rate': 0.1, 'model.backbone.attn_drop_rate': 0.1,
        'model.backbone.drop_path_rate': 0.1,
        'log_level': 'WARNING',
    }
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False,
                        f'{loader}.dataset.data_root': data_root})
    return options


def train(config: str, work_dir: str, data_root: str, iters: int, resume=None,
          hooks: bool = True, validate: bool = True) -> str:
    cfg = Config.fromfile(config)
    # No yapf formatting of the config text (logged and saved several times per run):
    # most of a toy run's time otherwise. (Config.fromfile's format_python_code=False
    # does not reach the object in mmengine 0.10.7.)
    object.__setattr__(cfg, '_format_python_code', False)
    cfg.merge_from_dict(_options(data_root, iters))
    if not validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.work_dir = work_dir
    # One message hub / logger per run (mmengine keys them by experiment name).
    cfg.experiment_name = uuid.uuid4().hex
    if hooks:
        configure_checkpointing(cfg, resume=resume)
    else:  # mmengine's own behaviour, for the control
        cfg.resume, cfg.load_from = resume is not None, resume
    Runner.from_cfg(cfg).train()
    return osp.join(work_dir, f'iter_{iters}.pth')


def assert_same_checkpoint(a: str, b: str) -> None:
    # (That they load without depict's allow-list is tested in a fresh interpreter,
    # tests/test_tools/test_checkpoint_tools.py.)
    first, second = (torch.load(p, weights_only=True) for p in (a, b))
    assert first['state_dict'].keys() == second['state_dict'].keys()
    different = [k for k, v in first['state_dict'].items()
                 if not torch.equal(v, second['state_dict'][k])]
    assert not different, f'weights differ after resume: {different[:5]}'
    for key, state in first['optimizer']['state'].items():
        for name, value in state.items():
            assert torch.equal(torch.as_tensor(value),
                               torch.as_tensor(second['optimizer']['state'][key][name]))


@pytest.mark.parametrize('config', DECODER_PARAMS, ids=lambda c: osp.basename(c)[:-3])
def test_resume_is_bit_exact_with_dropout(config, tiny_toy_root, tmp_path):
    # Validation (iterations 2 and 4) only for the reference config, to keep this fast:
    # validation leaves the generators as it found them, whichever the decoder.
    validate = 'segmenter' in config
    straight = train(config, str(tmp_path / 'straight'), tiny_toy_root, iters=4,
                     validate=validate)
    half = train(config, str(tmp_path / 'half'), tiny_toy_root, iters=2, validate=validate)
    resumed = train(config, str(tmp_path / 'resumed'), tiny_toy_root, iters=4, resume=half,
                    validate=validate)
    assert_same_checkpoint(straight, resumed)


def test_without_the_hooks_resume_diverges(tiny_toy_root, tmp_path):
    """The control: mmengine's resume alone draws other dropout masks."""
    config = DECODER_CONFIGS[0]
    straight = train(config, str(tmp_path / 'straight'), tiny_toy_root, iters=4, hooks=False,
                     validate=False)
    half = train(config, str(tmp_path / 'half'), tiny_toy_root, iters=2, hooks=False,
                 validate=False)
    resumed = train(config, str(tmp_path / 'resumed'), tiny_toy_root, iters=4, resume=half,
                    hooks=False, validate=False)
    with pytest.raises(AssertionError, match='weights differ'):
        assert_same_checkpoint(straight, resumed)
