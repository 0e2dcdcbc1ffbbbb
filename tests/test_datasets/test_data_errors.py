"""Bad dataset files fail with an error that names the file and the fix.

Before: a zero-byte JPEG failed in OpenCV (``!buf.empty()``), a truncated PNG
label map in Pillow (``image file is truncated``), an RGB label map in collate
(``stack expects each tensor to be equal size``), an empty image folder in
mmengine (``need at least one array to concatenate``), none naming a file; a
label map of another size than its image trained silently.
"""
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from depict.datasets import (CheckedLoadAnnotations, CheckedLoadImageFromFile,
                             DataFileError, ToyDataset, generate_toy_dataset)
from depict.engine import check_cfg_options, check_data_roots, check_dataset_files

PREFIX = dict(img_path='images/training', seg_map_path='annotations/training')


@pytest.fixture
def toy(tmp_path) -> str:
    return generate_toy_dataset(str(tmp_path / 'toy'), num_train=6, num_val=1, seed=3)


def _pairs(root: str) -> list[tuple[str, str]]:
    names = sorted(os.listdir(osp.join(root, 'images', 'training')))
    return [(osp.join(root, 'images', 'training', n),
             osp.join(root, 'annotations', 'training', n.replace('.jpg', '.png')))
            for n in names]


def _zero_byte(path):
    open(path, 'wb').close()


def _truncate(path):
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def _to_rgb(path):
    Image.open(path).convert('RGB').save(path)


def _resize(path):
    label = Image.open(path)
    label.resize((label.width // 2, label.height // 2), Image.NEAREST).save(path)


def _load(img, seg):
    results = dict(img_path=img, seg_map_path=seg, reduce_zero_label=True, seg_fields=[])
    results = CheckedLoadImageFromFile().transform(results)
    return CheckedLoadAnnotations().transform(results)


def test_intact_pair_loads_as_with_mmseg(toy):
    img, seg = _pairs(toy)[0]
    results = _load(img, seg)
    assert results['img'].shape[:2] == results['gt_seg_map'].shape


@pytest.mark.parametrize('damage, which, pattern', [
    (_zero_byte, 0, r'image .* is empty \(0 bytes\)'),
    (_truncate, 1, r'label map .* cannot be decoded'),
    (_to_rgb, 1, r'label map .* has shape \(\d+, \d+, 3\).*single-channel'),
    (_resize, 1, r'label map .* is \d+x\d+ \(WxH\) but its image .* is \d+x\d+'),
])
def test_loading_names_the_broken_file(toy, damage, which, pattern):
    pair = _pairs(toy)[0]
    damage(pair[which])
    with pytest.raises(DataFileError, match=pattern) as info:
        _load(*pair)
    assert pair[which] in str(info.value)


def test_header_check_lists_every_bad_file(toy):
    pairs = _pairs(toy)
    _zero_byte(pairs[0][0])
    _truncate(pairs[1][1])
    _to_rgb(pairs[2][1])
    _resize(pairs[3][1])
    dataset = ToyDataset(data_root=toy, data_prefix=PREFIX, pipeline=[])
    with pytest.raises(ValueError) as info:
        check_dataset_files(dataset, 'train_dataloader')
    message = str(info.value)
    assert message.startswith('train_dataloader: 4 bad dataset file(s)')
    assert f'image {pairs[0][0]} is empty (0 bytes)' in message
    assert f'label map {pairs[1][1]} is truncated' in message
    assert f'label map {pairs[2][1]} has 3 channels (mode RGB)' in message
    assert re.search(rf'label map {re.escape(pairs[3][1])} is \d+x\d+ but its image', message)
    assert 'Fix:' in message


def test_header_check_passes_intact_data(toy):
    dataset = ToyDataset(data_root=toy, data_prefix=PREFIX, pipeline=[])
    assert check_dataset_files(dataset) >= 0


def _toy_cfg(root: str, **dataset) -> Config:
    return Config(dict(train_dataloader=dict(dataset=dict(
        type='ToyDataset', data_root=root, data_prefix=PREFIX, **dataset))))


def test_empty_image_folder_is_named(toy):
    folder = osp.join(toy, 'images', 'training')
    shutil.rmtree(folder)
    os.makedirs(folder)
    with pytest.raises(FileNotFoundError, match=rf'no images \(\*\.jpg\) under {re.escape(folder)}'):
        check_data_roots(_toy_cfg(toy), ('train_dataloader', ))


def test_mistyped_toy_root_is_not_generated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    typo = 'data/tyo'
    with pytest.raises(FileNotFoundError, match=r"toy data_root 'data/tyo' does not exist"):
        check_data_roots(_toy_cfg(typo), ('train_dataloader', ))
    with pytest.raises(FileNotFoundError, match="writes itself only at its default 'data/toy'"):
        ToyDataset(data_root=typo, data_prefix=PREFIX, num_train=2, num_val=1)
    assert not osp.exists(typo)
    # The default root still writes itself.
    check_data_roots(_toy_cfg('data/toy'), ('train_dataloader', ))
    dataset = ToyDataset(data_root='data/toy', data_prefix=PREFIX, num_train=2, num_val=1)
    assert len(dataset) == 2


def test_mistyped_cfg_option_names_the_closest_key():
    cfg = Config(dict(train_cfg=dict(max_iters=10), model=dict(type='X')))
    with pytest.raises(KeyError, match=r"no top-level key 'trian_cfg'; did you mean 'train_cfg'"):
        check_cfg_options(cfg, {'trian_cfg.max_iters': 1})
    # Existing keys and keys the Runner reads without the config defining them pass.
    check_cfg_options(cfg, {'train_cfg.max_iters': 1, 'randomness.seed': 0, 'resume': True})
