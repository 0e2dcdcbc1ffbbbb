import os.path as osp

from mmengine.config import Config

from conftest import REPO
from depict.utils.config import load_config

TOY = 'configs/depict/depict-sa_vit-toy_1xb8-2k_toy-64x64.py'


def test_dump_is_not_yapf_formatted_and_round_trips():
    cfg = load_config(TOY)
    assert cfg._format_python_code is False
    text = cfg.pretty_text
    # The same Python: parsing the dump gives the same config.
    assert Config.fromstring(text, '.py').to_dict() == cfg.to_dict()
    # Not what yapf makes of it (mmengine's default, the slow path).
    assert text != Config.fromfile(TOY).pretty_text


def test_flag_survives_the_runner_copy():
    import copy
    assert copy.deepcopy(load_config(TOY))._format_python_code is False


def test_dump_and_compare_resolved_leaf_configs(tmp_path):
    """tools/misc/dump_configs.py: a dump compares clean with itself, and a
    changed runner key is reported with its path and both values."""
    import shutil
    import subprocess
    import sys

    from depict.utils.config import compare_config_dumps, dump_leaf_configs
    configs = tmp_path / 'configs'
    shutil.copytree(osp.join(REPO, 'configs', '_base_'), configs / '_base_')
    (configs / 'depict').mkdir()
    leaf = 'depict-sa_vit-toy_1xb8-2k_toy-64x64.py'
    text = open(osp.join(REPO, 'configs', 'depict', leaf)).read()
    (configs / 'depict' / leaf).write_text(text)
    written = dump_leaf_configs(str(configs), str(tmp_path / 'before'))
    assert [osp.relpath(p, tmp_path / 'before') for p in written] == [f'depict/{leaf[:-3]}.json']
    assert compare_config_dumps(str(tmp_path / 'before'), str(tmp_path / 'before')) == []
    (configs / 'depict' / leaf).write_text(text.replace('stride=(48, 48)', 'stride=(32, 48)'))
    tool = osp.join(REPO, 'tools', 'misc', 'dump_configs.py')
    subprocess.run([sys.executable, tool, 'dump', str(tmp_path / 'after'), '--configs',
                    str(configs)], check=True, capture_output=True)
    result = subprocess.run([sys.executable, tool, 'compare', str(tmp_path / 'before'),
                             str(tmp_path / 'after')], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f'depict/{leaf[:-3]}.json: model.test_cfg.stride[0]: 48 -> 32', '1 difference(s)']
