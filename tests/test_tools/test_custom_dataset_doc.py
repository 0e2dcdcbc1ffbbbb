"""docs/custom_dataset.md, followed to the letter on generated data.

The config is the one printed in the doc (not a copy), so the page cannot drift
from what works: the dataset is written in the documented layout, then
``tools/train.py`` trains a few iterations and ``tools/test.py`` reports the
IoU of the custom classes by name.
"""
import os
import os.path as osp
import re
import sys

import numpy as np
from PIL import Image

from conftest import REPO, run_tool

PYTHON = sys.executable
DOC = osp.join(REPO, 'docs', 'custom_dataset.md')
CLASSES = ('background', 'road', 'building')


def doc_config() -> str:
    text = open(DOC, encoding='utf-8').read()
    block = text.split('<!-- custom-dataset-config -->', 1)[1]
    return re.search(r'```python\n(.*?)```', block, re.S).group(1)


def write_dataset(root: str, rng: np.random.Generator) -> None:
    """Images with a road band and building blocks; labels as the doc says."""
    for split, count in (('train', 6), ('val', 2)):
        os.makedirs(osp.join(root, 'images', split))
        os.makedirs(osp.join(root, 'annotations', split))
        for index in range(count):
            label = np.zeros((72, 96), np.uint8)
            top = int(rng.integers(30, 50))
            label[top:top + 14] = 1  # road
            left = int(rng.integers(0, 60))
            label[5:top - 2, left:left + 30] = 2  # building
            label[:2] = 255  # an ignored border
            colours = np.array([[40, 120, 40], [90, 90, 90], [200, 120, 60]], np.uint8)
            image = colours[np.minimum(label, 2)] + rng.integers(0, 20, (72, 96, 3)).astype(
                np.uint8)
            name = f'{split}_{index:04d}'
            Image.fromarray(image).save(osp.join(root, 'images', split, f'{name}.jpg'))
            Image.fromarray(label, mode='L').save(
                osp.join(root, 'annotations', split, f'{name}.png'))


def test_custom_dataset_doc_end_to_end(tmp_path):
    write_dataset(str(tmp_path / 'data' / 'my_dataset'), np.random.default_rng(0))
    # The doc puts the config in configs/my_dataset/; its _base_ is relative to that.
    config = doc_config().replace("'../", f"'{REPO}/configs/")
    config_path = tmp_path / 'segmenter_my-dataset.py'
    config_path.write_text(config)
    fast = ['train_cfg.max_iters=4', 'train_cfg.val_interval=4',
            'default_hooks.checkpoint.interval=4', 'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    work_dir = str(tmp_path / 'work')
    run_tool([PYTHON, osp.join(REPO, 'tools', 'train.py'), str(config_path), '--work-dir',
              work_dir, '--cfg-options', *fast], cwd=str(tmp_path), fork=True)
    proc = run_tool([PYTHON, osp.join(REPO, 'tools', 'test.py'), str(config_path),
                     osp.join(work_dir, 'iter_4.pth'), '--work-dir', work_dir,
                     '--cfg-options', *fast[4:]], cwd=str(tmp_path), fork=True)
    out = proc.stdout + proc.stderr
    # The per-class table names the custom classes, and an mIoU is reported.
    for name in CLASSES:
        assert re.search(rf'\|\s*{name}\s*\|', out), out[-3000:]
    assert re.search(r'mIoU: [0-9.]+', out)
    # The generated data really is in the documented layout (nothing fell back
    # to the base's toy dataset).
    assert not osp.exists(tmp_path / 'data' / 'toy')
