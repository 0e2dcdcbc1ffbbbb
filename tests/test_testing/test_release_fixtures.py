"""The miniature releases have the official raw formats (names, modes, encodings)."""
import glob
import json
import os.path as osp
import re

import numpy as np
from PIL import Image
from scipy.io import loadmat

from depict.testing import (make_ade20k_release, make_cityscapes_release,
                            make_pascal_context_release)
from depict.testing.fixtures import PASCAL_CONTEXT_59_IDS


def test_cityscapes_layout_and_encodings(tmp_path):
    root = make_cityscapes_release(str(tmp_path), seed=3)
    frames = sorted(glob.glob(osp.join(root, 'leftImg8bit', '*', '*', '*.png')))
    assert len(frames) == 8  # 4 train, 3 val, 1 test
    for frame in frames:
        split, city, name = frame.split(osp.sep)[-3:]
        assert re.fullmatch(rf'{city}_\d{{6}}_\d{{6}}_leftImg8bit\.png', name), name
        image = Image.open(frame)
        assert image.mode == 'RGB' and image.size == (128, 64)
        stem = osp.join(root, 'gtFine', split, city, name[:-len('leftImg8bit.png')] + 'gtFine_')
        polygons = json.load(open(stem + 'polygons.json'))
        assert polygons['imgHeight'] == 64 and polygons['imgWidth'] == 128
        label_ids = Image.open(stem + 'labelIds.png')
        instances = Image.open(stem + 'instanceIds.png')
        assert label_ids.mode == 'L' and Image.open(stem + 'color.png').mode == 'RGBA'
        assert instances.mode == 'I;16'  # 16-bit PNG, as in the release
        ids, inst = np.array(label_ids), np.array(instances).astype(np.int64)
        if split == 'test':
            assert (ids == 0).all() and not polygons['objects']  # withheld labels
            continue
        assert set(np.unique(ids)) <= set(range(34))
        # instanceIds: class id * 1000 + k for instance classes, the id otherwise.
        assert (np.where(inst >= 1000, inst // 1000, inst) == ids).all()
        cars = np.unique(inst[inst // 1000 == 26])
        assert len(cars) >= 1 and (cars % 1000 < 10).all()
        assert 1 in ids  # ego vehicle (ignored in evaluation)
        labels = {o['label'] for o in polygons['objects']}
        assert {'license plate', 'cargroup', 'road', 'sky'} <= labels


def test_pascal_context_layout_and_encodings(tmp_path):
    paths = make_pascal_context_release(str(tmp_path), num_train=3, num_val=2, seed=1)
    voc = osp.join(paths['devkit'], 'VOC2010')
    main = osp.join(voc, 'ImageSets', 'Main')
    assert open(osp.join(main, 'train.txt')).read().split() == paths['train']
    assert open(osp.join(main, 'val.txt')).read().split() == paths['val']
    assert sorted(open(osp.join(main, 'trainval.txt')).read().split()) == \
        sorted(paths['train'] + paths['val'])
    labels = dict(line.strip().split(': ') for line in open(osp.join(paths['context'],
                                                                       'labels.txt')))
    assert len(labels) == 459 and labels['2'] == 'aeroplane' and labels['458'] == 'wood'
    labels59 = [line.strip().split(': ')[1]
                for line in open(osp.join(paths['context'], '59_labels.txt'))]
    assert len(labels59) == 59 and 'diningtable' in labels59
    seen = set()
    for image_id in paths['train'] + paths['val']:
        assert re.fullmatch(r'20(08|09|10)_\d{6}', image_id)
        image = Image.open(osp.join(voc, 'JPEGImages', f'{image_id}.jpg'))
        label_map = loadmat(osp.join(paths['context'], 'trainval', f'{image_id}.mat'))['LabelMap']
        assert label_map.dtype == np.uint16 and label_map.shape == image.size[::-1]
        assert label_map.min() >= 1 and label_map.max() <= 459
        seen |= set(np.unique(label_map).tolist())
    # Both benchmark classes and others (background in the benchmark) occur.
    assert seen & set(PASCAL_CONTEXT_59_IDS.values()) and seen - set(
        PASCAL_CONTEXT_59_IDS.values())


def test_ade20k_layout_and_encodings(tmp_path):
    ade = make_ade20k_release(str(tmp_path), num_train=3, num_val=2, num_test=1)
    for split, prefix, count in (('training', 'train', 3), ('validation', 'val', 2)):
        names = sorted(osp.basename(p)[:-4]
                       for p in glob.glob(osp.join(ade, 'images', split, '*.jpg')))
        assert names == [f'ADE_{prefix}_{i:08d}' for i in range(1, count + 1)]
        for name in names:
            label = Image.open(osp.join(ade, 'annotations', split, f'{name}.png'))
            assert label.mode == 'L'
            assert np.array(label).max() <= 150
    assert open(osp.join(ade, 'objectInfo150.txt')).read().count('\n') == 151
    assert osp.isfile(osp.join(tmp_path, 'release_test', 'testing', 'ADE_test_00000001.jpg'))


def test_releases_are_deterministic(tmp_path):
    a = make_cityscapes_release(str(tmp_path / 'a'), splits={'val': {'ulm': 2}}, seed=7)
    b = make_cityscapes_release(str(tmp_path / 'b'), splits={'val': {'ulm': 2}}, seed=7)
    for path in glob.glob(osp.join(a, '**', '*.png'), recursive=True):
        assert (np.array(Image.open(path)) == np.array(Image.open(path.replace(a, b)))).all()
