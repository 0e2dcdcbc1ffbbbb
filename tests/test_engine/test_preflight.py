"""depict.engine.preflight: a mistyped ``--cfg-options`` key fails before the run."""
import pytest
from mmengine.config import Config

from depict.engine import check_cfg_options


def test_mistyped_cfg_option_names_the_closest_key():
    cfg = Config(dict(train_cfg=dict(max_iters=10), model=dict(type='X')))
    with pytest.raises(KeyError, match=r"no top-level key 'trian_cfg'; did you mean 'train_cfg'"):
        check_cfg_options(cfg, {'trian_cfg.max_iters': 1})
    # Existing keys and keys the Runner reads without the config defining them pass.
    check_cfg_options(cfg, {'train_cfg.max_iters': 1, 'randomness.seed': 0, 'resume': True})
