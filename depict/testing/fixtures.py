"""Miniature releases of the three benchmarks, in their official raw formats.

Tests (and users who want to try the preparation steps before a download) run
the real preparation tools, ``tools/misc/check_dataset.py``, training and
testing on these, so every step from the downloaded archive to a number is
exercised without the data. Each writer reproduces the on-disk layout, file
names, image modes and label encodings of the official archive; only the
content is synthetic (small images of random scenes):

* Cityscapes (``leftImg8bit_trainvaltest.zip`` + ``gtFine_trainvaltest.zip``):
  ``leftImg8bit/{split}/{city}/{city}_{seq:06d}_{frame:06d}_leftImg8bit.png``
  and, beside it under ``gtFine``, ``*_gtFine_polygons.json`` (the source
  annotation) with ``*_gtFine_labelIds.png``, ``*_gtFine_instanceIds.png`` and
  ``*_gtFine_color.png`` rendered from the polygons by cityscapesscripts, the
  way the release's own PNGs were made. The test split's annotations are
  placeholders (everything ``unlabeled``), as the real ones are withheld.
* PASCAL Context: the PASCAL VOC 2010 devkit (``VOCtrainval_03-May-2010.tar``:
  ``VOCdevkit/VOC2010/JPEGImages``, ``ImageSets/Main/{train,val,trainval}.txt``
  and per-class lists, ``ImageSets/Segmentation``) plus the context release
  (``trainval.tar.gz``: ``trainval/<image id>.mat`` holding a uint16
  ``LabelMap`` in the full 459-class label space; ``labels.txt`` with lines
  ``"<id>: <name>"``; ``59_labels.txt`` with the 59-class subset). Only the 59
  benchmark classes carry their real names in ``labels.txt``; the other 400
  names are placeholders. ``59_labels.txt`` lists the classes in FCN's order
  with its three spellings that differ from ``labels.txt`` (``diningtable``,
  ``bedcloth``, ``clothes``), which the converter must resolve.
* ADE20K (``ADEChallengeData2016.zip``): ``images/{training,validation}/
  ADE_{train,val}_%08d.jpg``, ``annotations/...png`` (uint8, 0 = other,
  1..150), ``objectInfo150.txt``, ``sceneCategories.txt``; optionally the test
  images of ``release_test.zip`` (``release_test/testing/ADE_test_%08d.jpg``).
* COCO-Stuff-10K (``cocostuff-10k-v1.1.zip``): ``images/COCO_{train,val}2014_%012d.jpg``,
  ``annotations/<name>.mat`` (MATLAB v5: uint16 ``S``, 0 = unlabeled, 1..182 the
  1-based COCO-Stuff ids of which 171 occur, plus ``names`` and ``captions``),
  ``imageLists/{train,test,all}.txt``.
* COCO-Stuff-164K (COCO 2017 ``train2017.zip`` / ``val2017.zip`` images and
  ``stuffthingmaps_trainval2017.zip``): ``images/{train,val}2017/%012d.jpg``,
  ``annotations/{train,val}2017/%012d.png`` (uint8, 0-based ids 0..181 of which
  171 occur, 255 = unlabeled).

The module lives in the package (not under ``tests/``) so that it is importable
from any test file without path tricks, by other helpers' tests (analysis
tools need a Cityscapes-format dataset too), and from the command line::

    python -m depict.testing cityscapes data/mini/cityscapes
"""
import json
import os
import os.path as osp
from typing import Optional

import numpy as np
from PIL import Image

__all__ = [
    'make_cityscapes_release', 'make_pascal_context_release', 'make_ade20k_release',
    'PASCAL_CONTEXT_59_IDS', 'expected_pascal_context_labels', 'make_coco_stuff10k_release',
    'make_coco_stuff164k_release', 'COCO_STUFF_IDS', 'expected_coco_stuff_train_ids'
]

# ---------------------------------------------------------------------------
# Cityscapes
# ---------------------------------------------------------------------------

#: Default miniature splits: {split: {city: number of frames}}.
CITYSCAPES_SPLITS = {
    'train': {'aachen': 2, 'bochum': 2},
    'val': {'frankfurt': 2, 'lindau': 1},
    'test': {'berlin': 1},
}


def _box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def _cityscapes_objects(rng: np.random.Generator, width: int, height: int) -> list[dict]:
    """A street scene as polygons, back to front like the release's json files.

    Covers: stuff classes, instance classes (several cars, a person), a
    ``cargroup`` (semantic car, no instance id), an ignored class (``ego
    vehicle``, trainId 255) and a ``license plate`` (id -1: never drawn).
    """
    horizon = rng.uniform(0.35, 0.5) * height
    kerb = rng.uniform(0.6, 0.7) * height
    objects = [
        ('sky', _box(0, 0, width, horizon + 2)),
        ('building', _box(0, horizon * 0.3, width * rng.uniform(0.3, 0.5), horizon + 4)),
        ('vegetation', _box(width * rng.uniform(0.55, 0.7), horizon * 0.5, width, horizon + 4)),
        ('sidewalk', _box(0, horizon, width, kerb)),
        ('road', _box(0, kerb, width, height)),
        ('pole', _box(width * 0.5, horizon * 0.4, width * 0.5 + 2, kerb)),
        ('traffic sign', _box(width * 0.5 - 3, horizon * 0.4, width * 0.5 + 5, horizon * 0.4 + 5)),
    ]
    for _ in range(rng.integers(1, 3)):
        x = rng.uniform(0, width * 0.75)
        w = rng.uniform(0.12, 0.22) * width
        y = rng.uniform(kerb - 6, height * 0.8)
        objects.append(('car', _box(x, y, x + w, min(height, y + w * 0.45))))
        objects.append(('license plate', _box(x + w * 0.4, y + w * 0.3, x + w * 0.6,
                                              y + w * 0.38)))
    objects.append(('cargroup', _box(width * 0.8, kerb - 4, width * 0.95, kerb + 3)))
    px = rng.uniform(0.1, 0.9) * width
    objects.append(('person', [[px, horizon], [px + 3, horizon], [px + 4, kerb],
                               [px - 1, kerb]]))
    objects.append(('ego vehicle', _box(0, height * 0.92, width, height)))
    # Integer vertices, as in the release.
    return [dict(label=label, polygon=[[int(round(x)), int(round(y))] for x, y in polygon])
            for label, polygon in objects]


def _cityscapes_image(label_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An RGB frame whose colours follow the classes, plus noise."""
    from cityscapesscripts.helpers.labels import id2label

    image = np.zeros(label_ids.shape + (3, ), np.float64)
    for label_id in np.unique(label_ids):
        image[label_ids == label_id] = id2label[int(label_id)].color
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_cityscapes_release(root: str, *, splits: Optional[dict] = None,
                            size: tuple[int, int] = (64, 128), seed: int = 0) -> str:
    """Writes a miniature Cityscapes (``leftImg8bit`` + ``gtFine``) under ``root``.

    Args:
        root: The folder the two official zips were extracted into.
        splits: ``{split: {city: frames}}``; defaults to
            :data:`CITYSCAPES_SPLITS` (4 train / 3 val / 1 test).
        size: Frame ``(height, width)``; the real frames are 1024x2048.
        seed: The release is a pure function of the arguments.

    Returns:
        ``root``.
    """
    # cityscapesscripts renders the label PNGs from the polygons, exactly as
    # the release's PNGs were made ([tools] extra; imports pkg_resources).
    from cityscapesscripts.helpers.annotation import Annotation
    from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
    from cityscapesscripts.preparation.json2labelImg import json2labelImg

    height, width = size
    rng = np.random.default_rng(seed)
    for split, cities in (splits or CITYSCAPES_SPLITS).items():
        for city, frames in cities.items():
            img_dir = osp.join(root, 'leftImg8bit', split, city)
            gt_dir = osp.join(root, 'gtFine', split, city)
            os.makedirs(img_dir, exist_ok=True)
            os.makedirs(gt_dir, exist_ok=True)
            for index in range(frames):
                stem = f'{city}_{index:06d}_{int(rng.integers(1, 999999)):06d}'
                objects = [] if split == 'test' else _cityscapes_objects(rng, width, height)
                gt = osp.join(gt_dir, f'{stem}_gtFine_')
                with open(gt + 'polygons.json', 'w') as f:
                    json.dump(dict(imgHeight=height, imgWidth=width, objects=objects), f,
                              indent=4)
                json2labelImg(gt + 'polygons.json', gt + 'labelIds.png', 'ids')
                json2labelImg(gt + 'polygons.json', gt + 'color.png', 'color')
                # json2instanceImg saves a 32-bit 'I' image, which Pillow >= 11
                # cannot write as PNG; the release's instanceIds are 16-bit PNGs.
                annotation = Annotation()
                annotation.fromJsonFile(gt + 'polygons.json')
                instances = np.array(createInstanceImage(annotation, 'ids'), np.uint16)
                Image.fromarray(instances).save(gt + 'instanceIds.png')
                label_ids = np.array(Image.open(gt + 'labelIds.png'))
                Image.fromarray(_cityscapes_image(label_ids, rng)).save(
                    osp.join(img_dir, f'{stem}_leftImg8bit.png'))
    return root


# ---------------------------------------------------------------------------
# PASCAL Context
# ---------------------------------------------------------------------------

#: The 59 benchmark classes and their ids in the release's 459-class
#: ``labels.txt`` (which is alphabetical). Written out by name here, separately
#: from the converter's table, so that the tests cross-check the two.
PASCAL_CONTEXT_59_IDS = {
    'aeroplane': 2, 'bag': 9, 'bed': 18, 'bedclothes': 19, 'bench': 22, 'bicycle': 23,
    'bird': 25, 'boat': 31, 'book': 33, 'bottle': 34, 'building': 44, 'bus': 45,
    'cabinet': 46, 'car': 59, 'cat': 65, 'ceiling': 68, 'chair': 72, 'cloth': 80,
    'computer': 85, 'cow': 98, 'cup': 104, 'curtain': 105, 'dog': 113, 'door': 115,
    'fence': 144, 'floor': 158, 'flower': 159, 'food': 162, 'grass': 187, 'ground': 189,
    'horse': 207, 'keyboard': 220, 'light': 232, 'motorbike': 258, 'mountain': 259,
    'mouse': 260, 'person': 284, 'plate': 295, 'platform': 296, 'pottedplant': 308,
    'road': 324, 'rock': 326, 'sheep': 347, 'shelves': 349, 'sidewalk': 354, 'sign': 355,
    'sky': 360, 'snow': 366, 'sofa': 368, 'table': 397, 'track': 415, 'train': 416,
    'tree': 420, 'truck': 424, 'tvmonitor': 427, 'wall': 440, 'water': 445,
    'window': 454, 'wood': 458,
}
#: FCN's ``59_labels.txt`` order (VOC's 20 classes first) and spellings.
_FCN_59_ORDER = (
    'aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse '
    'motorbike person pottedplant sheep sofa train tvmonitor bag bed bench book building '
    'cabinet ceiling clothes computer cup door fence floor flower food grass ground '
    'keyboard light mountain mouse curtain platform sign plate road rock shelves sidewalk '
    'sky snow bedcloth track tree truck wall water window wood').split()
_FCN_SPELLING = {'diningtable': 'table', 'bedcloth': 'bedclothes', 'clothes': 'cloth'}
#: Ids of some of the 400 non-benchmark classes (background in the benchmark).
_OTHER_IDS = (1, 3, 100, 250, 459)


def expected_pascal_context_labels(label_map: np.ndarray) -> np.ndarray:
    """The 60-class benchmark labels of a 459-class ``LabelMap``, by class name.

    0 is background (every class outside the 59), 1..59 follow mmseg's
    ``PascalContextDataset`` class order.
    """
    from mmseg.datasets import PascalContextDataset

    classes = PascalContextDataset.METAINFO['classes']
    out = np.zeros(label_map.shape, np.uint8)
    for name, class_id in PASCAL_CONTEXT_59_IDS.items():
        out[label_map == class_id] = classes.index(name)
    return out


def _voc_ids(rng: np.random.Generator, count: int, taken: set) -> list[str]:
    ids = []
    while len(ids) < count:
        image_id = f'{int(rng.integers(2008, 2011))}_{int(rng.integers(1, 9999)):06d}'
        if image_id not in taken:
            taken.add(image_id)
            ids.append(image_id)
    return sorted(ids)


def _context_label_map(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    ids = list(PASCAL_CONTEXT_59_IDS.values())
    label_map = np.full((height, width), rng.choice(ids), np.uint16)
    for _ in range(rng.integers(3, 7)):
        value = rng.choice(_OTHER_IDS) if rng.random() < 0.3 else rng.choice(ids)
        y0, x0 = rng.integers(0, height - 4), rng.integers(0, width - 4)
        y1, x1 = y0 + rng.integers(4, height // 2 + 5), x0 + rng.integers(4, width // 2 + 5)
        label_map[y0:y1, x0:x1] = value
    return label_map


def make_pascal_context_release(root: str, *, num_train: int = 4, num_val: int = 3,
                                seed: int = 0) -> dict[str, str]:
    """Writes the VOC 2010 devkit and the PASCAL Context release under ``root``.

    Args:
        root: Download folder: gets ``VOCdevkit/`` (from
            ``VOCtrainval_03-May-2010.tar``) and ``context/`` (``trainval/``
            from ``trainval.tar.gz``, ``labels.txt``, ``59_labels.txt``).
        num_train: Images in VOC 2010's ``train`` split (real: 4998).
        num_val: Images in its ``val`` split (real: 5105).
        seed: The release is a pure function of the arguments.

    Returns:
        ``dict(devkit=..., context=..., train=[ids], val=[ids])``.
    """
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    voc = osp.join(root, 'VOCdevkit', 'VOC2010')
    context = osp.join(root, 'context')
    for folder in ('JPEGImages', 'Annotations', 'ImageSets/Main', 'ImageSets/Segmentation',
                   'SegmentationClass'):
        os.makedirs(osp.join(voc, folder), exist_ok=True)
    os.makedirs(osp.join(context, 'trainval'), exist_ok=True)

    taken: set = set()
    splits = dict(train=_voc_ids(rng, num_train, taken), val=_voc_ids(rng, num_val, taken))
    for split, ids in splits.items():
        for image_id in ids:
            height, width = (48, 64) if rng.random() < 0.7 else (64, 48)
            label_map = _context_label_map(rng, height, width)
            image = rng.normal(0, 10, (height, width, 3)) + (label_map[..., None] % 7) * 35
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
                osp.join(voc, 'JPEGImages', f'{image_id}.jpg'), quality=90)
            savemat(osp.join(context, 'trainval', f'{image_id}.mat'), {'LabelMap': label_map})
    main = osp.join(voc, 'ImageSets', 'Main')
    for split in ('train', 'val'):
        with open(osp.join(main, f'{split}.txt'), 'w') as f:
            f.writelines(f'{i}\n' for i in splits[split])
        # A per-class list ("<id> <1|-1>") and VOC's segmentation subset, which
        # the converter must not mistake for the split.
        with open(osp.join(main, f'aeroplane_{split}.txt'), 'w') as f:
            f.writelines(f'{i} -1\n' for i in splits[split])
        with open(osp.join(voc, 'ImageSets', 'Segmentation', f'{split}.txt'), 'w') as f:
            f.writelines(f'{i}\n' for i in splits[split][:1])
    with open(osp.join(main, 'trainval.txt'), 'w') as f:
        f.writelines(f'{i}\n' for i in sorted(splits['train'] + splits['val']))

    names = {class_id: name for name, class_id in PASCAL_CONTEXT_59_IDS.items()}
    with open(osp.join(context, 'labels.txt'), 'w') as f:
        f.writelines(f'{i}: {names.get(i, f"context_class_{i}")}\n' for i in range(1, 460))
    with open(osp.join(context, '59_labels.txt'), 'w') as f:
        f.writelines(f'{k}: {name}\n' for k, name in enumerate(_FCN_59_ORDER, 1))
    assert {_FCN_SPELLING.get(n, n) for n in _FCN_59_ORDER} == set(PASCAL_CONTEXT_59_IDS)
    return dict(devkit=osp.join(root, 'VOCdevkit'), context=context, **splits)


# ---------------------------------------------------------------------------
# ADE20K
# ---------------------------------------------------------------------------


def make_ade20k_release(root: str, *, num_train: int = 4, num_val: int = 3,
                        num_test: int = 0, seed: int = 0) -> str:
    """Writes ``ADEChallengeData2016`` (and optionally ``release_test``) under ``root``.

    Args:
        root: The folder ``ADEChallengeData2016.zip`` was extracted into.
        num_train: Training images (real: 20210).
        num_val: Validation images (real: 2000).
        num_test: Test images of ``release_test.zip`` (real: 3352).
        seed: The release is a pure function of the arguments.

    Returns:
        The ``ADEChallengeData2016`` folder (the config's ``data_root``).
    """
    from mmseg.datasets import ADE20KDataset

    rng = np.random.default_rng(seed)
    ade = osp.join(root, 'ADEChallengeData2016')
    scenes = []
    for split, prefix, count in (('training', 'train', num_train),
                                 ('validation', 'val', num_val)):
        os.makedirs(osp.join(ade, 'images', split), exist_ok=True)
        os.makedirs(osp.join(ade, 'annotations', split), exist_ok=True)
        for index in range(1, count + 1):
            name = f'ADE_{prefix}_{index:08d}'
            height, width = (48, 64) if rng.random() < 0.6 else (64, 48)
            label = np.full((height, width), rng.integers(1, 151), np.uint8)
            for _ in range(rng.integers(2, 6)):
                y0, x0 = rng.integers(0, height - 4), rng.integers(0, width - 4)
                label[y0:y0 + rng.integers(4, 24), x0:x0 + rng.integers(4, 24)] = \
                    rng.integers(0, 151)  # 0: "other", ignored
            image = rng.normal(0, 10, (height, width, 3)) + (label[..., None] % 9) * 28
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
                osp.join(ade, 'images', split, f'{name}.jpg'), quality=90)
            Image.fromarray(label).save(osp.join(ade, 'annotations', split, f'{name}.png'))
            scenes.append(f'{name} street\n')
    with open(osp.join(ade, 'sceneCategories.txt'), 'w') as f:
        f.writelines(scenes)
    with open(osp.join(ade, 'objectInfo150.txt'), 'w') as f:
        f.write('Idx\tRatio\tTrain\tVal\tName\n')
        for index, name in enumerate(ADE20KDataset.METAINFO['classes'], 1):
            f.write(f'{index}\t0.0067\t{num_train}\t{num_val}\t{name}\n')
    if num_test:
        test_dir = osp.join(root, 'release_test', 'testing')
        os.makedirs(test_dir, exist_ok=True)
        for index in range(1, num_test + 1):
            image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            Image.fromarray(image).save(osp.join(test_dir, f'ADE_test_{index:08d}.jpg'))
    return ade


# ---------------------------------------------------------------------------
# COCO-Stuff (10K and 164K)
# ---------------------------------------------------------------------------

#: The 182 COCO-Stuff ids (1-based) minus the 11 COCO thing ids that were never
#: annotated: the 171 classes of both benchmarks, in training-id order.
COCO_STUFF_IDS = tuple(i for i in range(1, 183)
                       if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83, 91))


def expected_coco_stuff_train_ids(raw: np.ndarray, version: str) -> np.ndarray:
    """What the preparation must write (mmseg's ``COCOStuffDataset`` conventions).

    10K: raw 1-based ids -> 1..171 (0 = unlabeled kept; the config reduces the
    zero label). 164K: raw 0-based ids -> 0..170, 255 = unlabeled.
    """
    out = np.full(raw.shape, 0 if version == '10k' else 255, np.uint8)
    for train_id, class_id in enumerate(COCO_STUFF_IDS):
        if version == '10k':
            out[raw == class_id] = train_id + 1
        else:
            out[raw == class_id - 1] = train_id
    return out


def _coco_stuff_scene(rng: np.random.Generator, zero_based: bool):
    """A small image and its raw label map (a background class plus boxes)."""
    height, width = (48, 64) if rng.random() < 0.6 else (64, 48)
    ids = np.array(COCO_STUFF_IDS) - (1 if zero_based else 0)
    unlabeled = 255 if zero_based else 0
    label = np.full((height, width), rng.choice(ids), np.uint16)
    for _ in range(rng.integers(2, 6)):
        y0, x0 = rng.integers(0, height - 4), rng.integers(0, width - 4)
        label[y0:y0 + rng.integers(4, 24), x0:x0 + rng.integers(4, 24)] = \
            rng.choice(ids) if rng.random() < 0.85 else unlabeled
    image = rng.normal(0, 10, (height, width, 3)) + (label[..., None] % 9) * 28
    return np.clip(image, 0, 255).astype(np.uint8), label


def make_coco_stuff10k_release(root: str, *, num_train: int = 4, num_test: int = 3,
                               seed: int = 0) -> str:
    """Writes the ``cocostuff-10k-v1.1`` layout under ``root`` (real: 9000 / 1000).

    Returns:
        ``root`` (the folder the zip was extracted into; the converter's input).
    """
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    os.makedirs(osp.join(root, 'imageLists'), exist_ok=True)
    names = np.empty((1, 182), dtype=object)
    names[0, :] = [f'class_{i}' for i in range(1, 183)]
    taken, lists = set(), {'train': [], 'test': []}
    for split, count in (('train', num_train), ('test', num_test)):
        while len(lists[split]) < count:
            coco_split = 'train2014' if rng.random() < 0.7 else 'val2014'
            name = f'COCO_{coco_split}_{int(rng.integers(1, 581930)):012d}'
            if name in taken:
                continue
            taken.add(name)
            image, label = _coco_stuff_scene(rng, zero_based=False)
            Image.fromarray(image).save(osp.join(root, 'images', f'{name}.jpg'), quality=90)
            savemat(osp.join(root, 'annotations', f'{name}.mat'),
                    dict(S=label, names=names, captions=np.array([['a scene']], dtype=object)))
            lists[split].append(name)
    for split in ('train', 'test'):
        with open(osp.join(root, 'imageLists', f'{split}.txt'), 'w') as f:
            f.writelines(f'{n}\n' for n in lists[split])
    with open(osp.join(root, 'imageLists', 'all.txt'), 'w') as f:
        f.writelines(f'{n}\n' for n in lists['train'] + lists['test'])
    return root


def make_coco_stuff164k_release(root: str, *, num_train: int = 4, num_val: int = 3,
                                seed: int = 0) -> str:
    """Writes COCO 2017 images and ``stuffthingmaps_trainval2017`` under ``root``
    (real: 118287 / 5000).

    Returns:
        ``root`` (``images/`` and ``annotations/`` inside; the converter's input).
    """
    rng = np.random.default_rng(seed)
    for split, count in (('train2017', num_train), ('val2017', num_val)):
        os.makedirs(osp.join(root, 'images', split), exist_ok=True)
        os.makedirs(osp.join(root, 'annotations', split), exist_ok=True)
        for index in rng.choice(581929, size=count, replace=False) + 1:
            image, label = _coco_stuff_scene(rng, zero_based=True)
            Image.fromarray(image).save(osp.join(root, 'images', split, f'{index:012d}.jpg'),
                                        quality=90)
            Image.fromarray(label.astype(np.uint8)).save(
                osp.join(root, 'annotations', split, f'{index:012d}.png'))
    return root


def main(argv: Optional[list[str]] = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        description='Write a miniature benchmark release in its official raw format')
    parser.add_argument('dataset', choices=['cityscapes', 'pascal_context', 'ade20k',
                                            'coco_stuff10k', 'coco_stuff164k'])
    parser.add_argument('root', help='destination folder (where the archives would be '
                        'extracted)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.dataset == 'cityscapes':
        out = make_cityscapes_release(args.root, seed=args.seed)
    elif args.dataset == 'pascal_context':
        out = make_pascal_context_release(args.root, seed=args.seed)
    elif args.dataset == 'coco_stuff10k':
        out = make_coco_stuff10k_release(args.root, seed=args.seed)
    elif args.dataset == 'coco_stuff164k':
        out = make_coco_stuff164k_release(args.root, seed=args.seed)
    else:
        out = make_ade20k_release(args.root, seed=args.seed, num_test=2)
    print(f'miniature {args.dataset} release written: {out}')


if __name__ == '__main__':
    main()
