"""depict.engine.tool_setup: the start tools/train.py and tools/test.py share."""
import os
import os.path as osp

import pytest

from conftest import TOY_CONFIG
from depict.engine.tool_setup import setup_tool_config


@pytest.fixture
def clean_dist_env(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)


def test_work_dir_cli_then_config_then_config_name(clean_dist_env):
    cfg = setup_tool_config(TOY_CONFIG)
    name = osp.splitext(osp.basename(TOY_CONFIG))[0]
    assert cfg.work_dir == osp.join('./work_dirs', name) and cfg.launcher == 'none'
    cfg = setup_tool_config(TOY_CONFIG, cfg_options={'work_dir': '/tmp/from_config'})
    assert cfg.work_dir == '/tmp/from_config'
    cfg = setup_tool_config(TOY_CONFIG, cfg_options={'work_dir': '/tmp/from_config'},
                            work_dir='/tmp/cli')
    assert cfg.work_dir == '/tmp/cli'
    assert 'LOCAL_RANK' not in os.environ  # no launcher: the environment is left alone


def test_cfg_options_merged_and_typos_rejected(clean_dist_env):
    cfg = setup_tool_config(TOY_CONFIG, cfg_options={'train_cfg.max_iters': 3})
    assert cfg.train_cfg.max_iters == 3
    with pytest.raises(KeyError, match="trian_cfg.*did you mean 'train_cfg'"):
        setup_tool_config(TOY_CONFIG, cfg_options={'trian_cfg.max_iters': 3})


def test_launcher_recorded_and_its_environment_prepared(clean_dist_env, monkeypatch):
    with pytest.raises(RuntimeError, match='--launcher pytorch needs RANK'):
        setup_tool_config(TOY_CONFIG, launcher='pytorch')
    for key, value in dict(RANK='1', WORLD_SIZE='2', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT='29500').items():
        monkeypatch.setenv(key, value)
    cfg = setup_tool_config(TOY_CONFIG, launcher='pytorch', local_rank=1)
    assert cfg.launcher == 'pytorch' and os.environ['LOCAL_RANK'] == '1'
