"""depict.datasets.checker: the data rules, and the checks before and during a
run that apply them (the offline report is tested through its tool in
tests/test_tools/test_check_dataset.py).

Before: an empty image folder failed in mmengine (``need at least one array to
concatenate``), a zero-byte or truncated file or a colour label map deep inside
a worker, none naming a file; a label map of another size than its image
trained silently.
"""
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.structures import SegDataSample
from PIL import Image

from depict.datasets import (CheckedLoadAnnotations, CheckedLoadImageFromFile, DataFileError,
                             ToyDataset, generate_toy_dataset)
from depict.datasets.checker import (check_batch_labels, check_dataset, check_num_classes,
                                     invalid_labels, label_classes, training_label)
from depict.engine import check_data_roots, check_dataset_files
from depict.testing import damage_file

PREFIX = dict(img_path='images/training', seg_map_path='annotations/training')


@pytest.fixture
def toy(tmp_path) -> str:
    return generate_toy_dataset(str(tmp_path / 'toy'), num_train=6, num_val=1, seed=3)


def _pairs(root: str) -> list[tuple[str, str]]:
    names = sorted(os.listdir(osp.join(root, 'images', 'training')))
    return [(osp.join(root, 'images', 'training', n),
             osp.join(root, 'annotations', 'training', n.replace('.jpg', '.png')))
            for n in names]


def _toy_cfg(root: str, **dataset) -> Config:
    return Config(dict(train_dataloader=dict(dataset=dict(
        type='ToyDataset', data_root=root, data_prefix=PREFIX, **dataset))))


# ---- The rules ---------------------------------------------------------------

def test_label_value_rule():
    """A label is a class in [0, C) or the ignore index, for tensors and arrays."""
    labels = [0, 7, 8, 255, -1, 41]
    assert invalid_labels(torch.tensor(labels), 8, 255) == [-1, 8, 41]
    assert invalid_labels(np.array(labels), 8, 255) == [-1, 8, 41]
    assert invalid_labels(np.array(labels), 8, -1) == [8, 41, 255]
    # A one-output head is a binary sigmoid head: labels 0 and 1.
    assert label_classes(1) == 2 and label_classes(150) == 150


@pytest.mark.parametrize('raw, label_map, reduce, expected', [
    (0, None, True, 255), (1, None, True, 0), (150, None, True, 149), (255, None, True, 255),
    (0, None, False, 0), (3, {3: 1}, False, 1), (4, {3: 1}, True, 1), (3, {3: 1}, True, 2),
    (4, {3: 1}, False, 4),
])
def test_training_label_is_what_load_annotations_makes(tmp_path, raw, label_map, reduce,
                                                       expected):
    assert training_label(raw, label_map, reduce) == expected
    # mmseg's LoadAnnotations on a 2x2 label map gives the same label.
    path = str(tmp_path / 'label.png')
    Image.fromarray(np.full((2, 2), raw, np.uint8)).save(path)
    results = LoadAnnotations().transform(dict(seg_map_path=path, reduce_zero_label=reduce,
                                               label_map=label_map, seg_fields=[]))
    assert int(results['gt_seg_map'].flat[0]) == expected


def test_one_problem_reads_the_same_everywhere(toy):
    """The header check, the loading transforms and the offline report word a
    broken image and a misaligned label map identically."""
    pairs = _pairs(toy)
    damage_file(pairs[0][0], 'zero_byte')
    damage_file(pairs[1][1], 'half_size')
    dataset = ToyDataset(data_root=toy, data_prefix=PREFIX, pipeline=[])
    with pytest.raises(ValueError) as info:
        check_dataset_files(dataset, 'train_dataloader')
    header = str(info.value)
    report = check_dataset(_toy_cfg(toy), 'train').format()
    for pair, sentence in ((pairs[0], f'image {pairs[0][0]} is empty (0 bytes)'),
                           (pairs[1], f'label map {pairs[1][1]} is 64x48 (WxH) but its image '
                                      f'{pairs[1][0]} is 128x96: labels would be misaligned')):
        results = dict(img_path=pair[0], seg_map_path=pair[1], seg_fields=[],
                       reduce_zero_label=True)
        with pytest.raises(DataFileError) as loading:
            CheckedLoadAnnotations().transform(CheckedLoadImageFromFile().transform(results))
        assert str(loading.value).startswith(f'{sentence}. Fix: ')
        assert sentence in header and sentence in report, (header, report)


# ---- Before a run: the config and the file headers ----------------------------

def test_header_check_lists_every_bad_file(toy):
    pairs = _pairs(toy)
    damage_file(pairs[0][0], 'zero_byte')
    damage_file(pairs[1][1], 'truncate')
    damage_file(pairs[2][1], 'rgb')
    damage_file(pairs[3][1], 'half_size')
    dataset = ToyDataset(data_root=toy, data_prefix=PREFIX, pipeline=[])
    with pytest.raises(ValueError) as info:
        check_dataset_files(dataset, 'train_dataloader')
    message = str(info.value)
    assert message.startswith('train_dataloader: 4 bad dataset file(s)')
    assert f'image {pairs[0][0]} is empty (0 bytes)' in message
    assert f'label map {pairs[1][1]} is truncated' in message
    assert f'label map {pairs[2][1]} has 3 channels (mode RGB)' in message
    assert re.search(rf'label map {re.escape(pairs[3][1])} is \d+x\d+ \(WxH\) but its image',
                     message)
    assert 'Fix:' in message
    # One fix per kind of problem, each once.
    assert message.count('full-size label map') == 1 and message.count('*_color.png') == 1


def test_header_check_passes_intact_data(toy):
    dataset = ToyDataset(data_root=toy, data_prefix=PREFIX, pipeline=[])
    assert check_dataset_files(dataset) >= 0


def test_empty_image_folder_is_named(toy):
    folder = osp.join(toy, 'images', 'training')
    shutil.rmtree(folder)
    os.makedirs(folder)
    with pytest.raises(FileNotFoundError,
                       match=rf'no images \(\*\.jpg\) under {re.escape(folder)}'):
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


# ---- During a run (SegDataCheckHook) and in the offline report ------------------

def _sample(labels, path='x/toy_training_00003.png') -> SegDataSample:
    sample = SegDataSample(metainfo=dict(seg_map_path=path))
    sample.gt_sem_seg = PixelData(data=torch.tensor(labels)[None])
    return sample


def test_batch_labels_outside_the_head_are_named():
    check_batch_labels([_sample([[0, 7], [255, 3]])], num_classes=8, ignore_index=255)
    with pytest.raises(ValueError, match=r'label out of range in x/toy_training_00003\.png: '
                       r'values \[8, 41\] are outside \[0, 7\].*reduce_zero_label'):
        check_batch_labels([_sample([[0, 7]]), _sample([[41, 8], [255, 0]])], 8, 255)
    # Binary sigmoid head (one output): labels 0 and 1.
    check_batch_labels([_sample([[0, 1], [255, 1]])], num_classes=1, ignore_index=255)
    with pytest.raises(ValueError, match=r'values \[2\] are outside \[0, 1\]'):
        check_batch_labels([_sample([[0, 2]])], num_classes=1, ignore_index=255)


def test_num_classes_rule_in_the_hook_and_the_report(toy):
    dataset = ToyDataset(data_root=toy, data_prefix=PREFIX, pipeline=[])
    check_num_classes(8, dataset, 'train_dataloader')
    with pytest.raises(ValueError, match=r'num_classes mismatch: model\.decode_head\.'
                       r'num_classes=5 but the train_dataloader dataset ToyDataset has 8 classes'):
        check_num_classes(5, dataset, 'train_dataloader')
    # The offline report applies the same rule to the config's model.
    cfg = _toy_cfg(toy)
    cfg.model = dict(decode_head=dict(num_classes=5, ignore_index=255))
    report = check_dataset(cfg, 'train')
    assert [f.kind for f in report.errors] == ['model']
    assert 'Set model.decode_head.num_classes=8' in report.errors[0].message
    cfg.model.decode_head.num_classes = 8
    assert not check_dataset(cfg, 'train').errors


def test_missing_data_root_reads_the_same_before_a_run_and_in_the_report(tmp_path):
    missing = str(tmp_path / 'no_such_dataset')
    cfg = Config(dict(train_dataloader=dict(dataset=dict(
        type='ADE20KDataset', data_root=missing, data_prefix=PREFIX))))
    with pytest.raises(FileNotFoundError) as info:
        check_data_roots(cfg, ('train_dataloader', ))
    sentence = f'data_root {missing!r} does not exist'
    assert str(info.value).startswith(f'train_dataloader.dataset: {sentence}')
    assert '--cfg-options train_dataloader.dataset.data_root=/path/to/no_such_dataset' in \
        str(info.value)
    report = check_dataset(cfg, 'train')
    assert [f.kind for f in report.errors] == ['layout']
    assert report.errors[0].message.startswith(sentence)
    assert '--data-root /path/to/no_such_dataset' in report.errors[0].fix
