"""CheckedLoadImageFromFile / CheckedLoadAnnotations: a bad file fails with an
error that names it and the fix.

Before: a zero-byte JPEG failed in OpenCV (``!buf.empty()``), a truncated PNG
label map in Pillow (``image file is truncated``), an RGB label map in collate
(``stack expects each tensor to be equal size``), none naming a file; a label
map of another size than its image trained silently.
"""
import os
import os.path as osp

import pytest

from depict.datasets import (CheckedLoadAnnotations, CheckedLoadImageFromFile, DataFileError,
                             generate_toy_dataset)
from depict.testing import damage_file


@pytest.fixture
def toy(tmp_path) -> str:
    return generate_toy_dataset(str(tmp_path / 'toy'), num_train=2, num_val=1, seed=3)


def _pairs(root: str) -> list[tuple[str, str]]:
    names = sorted(os.listdir(osp.join(root, 'images', 'training')))
    return [(osp.join(root, 'images', 'training', n),
             osp.join(root, 'annotations', 'training', n.replace('.jpg', '.png')))
            for n in names]


def _load(img, seg):
    results = dict(img_path=img, seg_map_path=seg, reduce_zero_label=True, seg_fields=[])
    results = CheckedLoadImageFromFile().transform(results)
    return CheckedLoadAnnotations().transform(results)


def test_intact_pair_loads_as_with_mmseg(toy):
    img, seg = _pairs(toy)[0]
    results = _load(img, seg)
    assert results['img'].shape[:2] == results['gt_seg_map'].shape


@pytest.mark.parametrize('damage, which, pattern', [
    ('zero_byte', 0, r'image .* is empty \(0 bytes\)'),
    ('truncate', 1, r'label map .* cannot be decoded'),
    ('rgb', 1, r'label map .* has 3 channels \(shape \(\d+, \d+, 3\)\).*single-channel'),
    ('half_size', 1, r'label map .* is \d+x\d+ \(WxH\) but its image .* is \d+x\d+'),
])
def test_loading_names_the_broken_file(toy, damage, which, pattern):
    pair = _pairs(toy)[0]
    damage_file(pair[which], damage)
    with pytest.raises(DataFileError, match=pattern) as info:
        _load(*pair)
    assert pair[which] in str(info.value)
    assert 'Fix: ' in str(info.value) and 'check_dataset.py' in str(info.value)
