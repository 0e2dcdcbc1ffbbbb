"""The embedded toy dataset: layout, determinism, labels, and that colour alone
does not determine the class."""
import glob
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from depict.datasets import TOY_CLASSES, ToyDataset, generate_toy_dataset
from depict.datasets.toy_generator import render_toy_scene


def test_layout_is_ade20k(tmp_path):
    root = generate_toy_dataset(str(tmp_path / 'toy'), num_train=6, num_val=3, seed=0)
    for split, count in (('training', 6), ('validation', 3)):
        images = sorted(glob.glob(osp.join(root, 'images', split, '*.jpg')))
        labels = sorted(glob.glob(osp.join(root, 'annotations', split, '*.png')))
        assert len(images) == len(labels) == count
        assert [osp.basename(p)[:-4] for p in images] == [osp.basename(p)[:-4] for p in labels]
        for image_path, label_path in zip(images, labels):
            image, label = Image.open(image_path), Image.open(label_path)
            assert image.mode == 'RGB' and label.mode == 'L'
            assert image.size == label.size
            values = np.unique(np.array(label))
            assert values.min() >= 0 and values.max() <= len(TOY_CLASSES)
    # No temporary folder left behind.
    assert os.listdir(tmp_path) == ['toy']


def test_generation_is_deterministic(tmp_path):
    a = generate_toy_dataset(str(tmp_path / 'a'), num_train=3, num_val=1, seed=5)
    b = generate_toy_dataset(str(tmp_path / 'b'), num_train=3, num_val=1, seed=5)
    for pa in sorted(glob.glob(osp.join(a, 'annotations', '*', '*.png'))):
        pb = pa.replace(a, b)
        assert (np.array(Image.open(pa)) == np.array(Image.open(pb))).all()


def test_colour_does_not_determine_class():
    """Mean colours of the regions of one class spread over the colour cube."""
    rng = np.random.default_rng(0)
    colours = {c: [] for c in range(1, len(TOY_CLASSES) + 1)}
    for _ in range(60):
        image, label = render_toy_scene(rng)
        for c in np.unique(label):
            if c:
                colours[int(c)].append(image[label == c].mean(0))
    for cls, means in colours.items():
        means = np.array(means)
        assert len(means) >= 5, TOY_CLASSES[cls - 1]
        # Per channel, the class's mean colour varies over most of [0, 255].
        assert (means.std(0) > 25).all(), (TOY_CLASSES[cls - 1], means.std(0))


def test_every_class_appears_and_zero_is_rare():
    rng = np.random.default_rng(1)
    counts = np.zeros(len(TOY_CLASSES) + 1)
    for _ in range(40):
        _, label = render_toy_scene(rng, 96, 128)
        counts += np.bincount(label.ravel(), minlength=len(counts))
    assert (counts[1:] > 0).all()
    assert counts[0] / counts.sum() < 0.1


def test_dataset_generates_on_first_use(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # only the default data/toy writes itself
    root = 'data/toy'
    dataset = ToyDataset(data_root=root, num_train=4, num_val=2,
                         data_prefix=dict(img_path='images/training',
                                          seg_map_path='annotations/training'),
                         pipeline=[])
    assert len(dataset) == 4 and dataset.metainfo['classes'] == TOY_CLASSES
    assert dataset.reduce_zero_label
    info = dataset[0]
    assert info['img_path'].endswith('.jpg') and info['seg_map_path'].endswith('.png')


def test_dataset_without_generation_names_missing_root(tmp_path):
    with pytest.raises(Exception, match='nowhere'):
        ToyDataset(data_root=str(tmp_path / 'nowhere'), generate=False,
                   data_prefix=dict(img_path='images/training',
                                    seg_map_path='annotations/training'))
