"""A missing data/pretrain file says which file and how to convert it."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import CheckpointLoader
from mmseg.registry import MODELS

from conftest import REPO

VIT_T = 'vit_tiny_patch16_384.augreg_in21k_ft_in1k'
COMMAND = (f'python tools/model_converters/vit2mmseg.py timm:{VIT_T} '
           f'data/pretrain/{VIT_T}.pth')


def test_missing_pretrained_file_gives_the_converter_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        CheckpointLoader.load_checkpoint(f'data/pretrain/{VIT_T}.pth')
    message = str(err.value)
    assert f'data/pretrain/{VIT_T}.pth' in message and COMMAND in message
    # Where to download it by hand, from timm's pretrained config.
    assert f'https://huggingface.co/timm/{VIT_T}' in message
    assert 'storage.googleapis.com/vit_models/augreg/Ti_16' in message


def test_model_init_from_config_raises_it(tmp_path, monkeypatch):
    """The entry point every tool goes through: the backbone's init_weights."""
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/segmenter/segmenter-mask_vit-t16_8xb1-160k_ade20k-512x512.py'))
    assert cfg.model.pretrained == f'data/pretrain/{VIT_T}.pth'
    monkeypatch.chdir(tmp_path)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    with pytest.raises(FileNotFoundError, match='timm:' + VIT_T.replace('.', r'\.')):
        model.init_weights()


def test_other_missing_files_keep_the_plain_message(tmp_path):
    with pytest.raises(FileNotFoundError, match='load_from, --resume') as err:
        CheckpointLoader.load_checkpoint(str(tmp_path / 'work_dirs' / 'iter_10.pth'))
    assert 'vit2mmseg' not in str(err.value)


def test_unknown_model_name_still_gives_the_command(tmp_path):
    path = str(tmp_path / 'pretrain' / 'my_vit.pth')
    with pytest.raises(FileNotFoundError, match=r'vit2mmseg\.py timm:my_vit '):
        CheckpointLoader.load_checkpoint(path)
