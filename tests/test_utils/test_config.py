from mmengine.config import Config

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
