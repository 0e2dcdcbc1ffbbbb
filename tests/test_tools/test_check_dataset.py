"""tools/misc/check_dataset.py (depict.datasets.checker) on prepared miniature
releases: clean data passes with a count warning; each kind of damage is an
error that names the files and the fix."""
import glob
import importlib.util
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from conftest import PYTHON, REPO, run_tool
from depict.datasets.checker import check_dataset
from depict.testing import (make_ade20k_release, make_cityscapes_release,
                            make_pascal_context_release)

BASES = osp.join(REPO, 'configs', '_base_', 'datasets')
TOOL = osp.join(REPO, 'tools', 'misc', 'check_dataset.py')


def _run_converter(name: str, *args: str) -> None:
    spec = importlib.util.spec_from_file_location(
        f'check_{name}', osp.join(REPO, 'tools', 'dataset_converters', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(list(args)) == 0


@pytest.fixture(scope='module')
def prepared(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp('prepared')
    cityscapes = make_cityscapes_release(str(base / 'cityscapes'), seed=4)
    _run_converter('cityscapes', cityscapes)
    pascal = make_pascal_context_release(str(base / 'pc'), seed=4)
    _run_converter('pascal_context', pascal['devkit'], pascal['context'])
    ade = make_ade20k_release(str(base / 'ade'), seed=4)
    return dict(cityscapes=cityscapes, pascal=osp.join(pascal['devkit'], 'VOC2010'), ade=ade)


def _check(base: str, data_root: str, split: str = 'val'):
    return check_dataset(Config.fromfile(osp.join(BASES, base)), split, data_root=data_root)


@pytest.mark.parametrize('base, key, classes, reduce', [
    ('cityscapes_768x768.py', 'cityscapes', 19, False),
    ('pascal_context.py', 'pascal', 60, False),
    ('pascal_context_59.py', 'pascal', 59, True),
    ('ade20k_640x640.py', 'ade', 150, True),
])
@pytest.mark.parametrize('split', ['train', 'val'])
def test_prepared_releases_pass(prepared, base, key, classes, reduce, split):
    report = _check(base, prepared[key], split)
    assert not report.errors, report.format()
    assert report.num_classes == classes and report.reduce_zero_label == reduce
    assert report.num_samples == report.num_scanned > 0
    # Miniature splits: the count differs from the official one -> a warning only.
    assert [f.kind for f in report.warnings] == ['count']
    official = dict(cityscapes=dict(train=(2975, ), val=(500, )),
                    pascal=dict(train=(4998, 4996), val=(5105, 5104)),
                    ade=dict(train=(20210, ), val=(2000, )))[key][split]
    assert report.official == official


def _damaged(prepared, tmp_path, key: str) -> str:
    root = str(tmp_path / key)
    shutil.copytree(prepared[key], root)
    return root


def test_cityscapes_damage_is_reported(prepared, tmp_path):
    root = _damaged(prepared, tmp_path, 'cityscapes')
    train_ids = sorted(glob.glob(osp.join(root, 'gtFine', 'val', '*', '*_labelTrainIds.png')))
    os.remove(train_ids[0])  # not converted
    shutil.copy(train_ids[1].replace('labelTrainIds', 'labelIds'), train_ids[1])  # raw ids
    shutil.copy(train_ids[2].replace('labelTrainIds', 'color'), train_ids[2])  # colour PNG
    frames = sorted(glob.glob(osp.join(root, 'leftImg8bit', 'val', '*', '*.png')))
    with open(frames[1], 'r+b') as f:
        f.truncate(200)  # a truncated download
    report = _check('cityscapes_768x768.py', root)
    text = report.format()
    kinds = sorted((f.kind, f.count) for f in report.errors)
    assert kinds == [('image', 1), ('label', 1), ('label', 1), ('pairing', 1)], text
    assert 'tools/dataset_converters/cityscapes.py' in text
    assert 'look like Cityscapes label ids' in text
    assert 'never *_gtFine_color.png' in text
    assert 'cannot decode' in text and osp.basename(frames[1]) in text


def test_ade20k_damage_is_reported(prepared, tmp_path):
    root = _damaged(prepared, tmp_path, 'ade')
    labels = sorted(glob.glob(osp.join(root, 'annotations', 'validation', '*.png')))
    Image.fromarray(np.full((48, 64), 151, np.uint8)).save(labels[0])  # 151 > 150
    Image.fromarray(np.ones((10, 10), np.uint8)).save(labels[1])  # wrong size
    os.remove(labels[2].replace('annotations', 'images').replace('.png', '.jpg'))  # orphan
    report = _check('ade20k.py', root)
    text = report.format()
    assert 'label values [151] are out of range for 150 classes' in text
    assert 'raw labels must be 0 (ignored), 1..150 or 255' in text
    assert 'sizes differ' in text and 'label maps without an image' in text
    assert len(report.errors) == 3


def test_pascal_context_labels_for_the_wrong_setting(prepared, tmp_path):
    """459-class ids copied in place of the converted PNGs."""
    root = _damaged(prepared, tmp_path, 'pascal')
    train = open(osp.join(root, 'ImageSets', 'SegmentationContext', 'train.txt')).read().split()
    png = osp.join(root, 'SegmentationClassContext', f'{train[0]}.png')
    Image.fromarray(np.full((48, 64), 300, np.uint16)).save(png)
    report = _check('pascal_context.py', root, 'train')
    assert any('459-class PASCAL Context ids' in f.fix for f in report.errors), report.format()


def test_missing_layout_names_the_preparation(tmp_path):
    report = _check('pascal_context.py', str(tmp_path / 'VOC2010'))
    assert [f.kind for f in report.errors] == ['layout']
    assert 'tools/dataset_converters/pascal_context.py' in report.errors[0].fix
    (tmp_path / 'VOC2010' / 'JPEGImages').mkdir(parents=True)
    report = _check('pascal_context.py', str(tmp_path / 'VOC2010'))
    messages = ' '.join(f.message for f in report.errors)
    assert 'SegmentationClassContext does not exist' in messages
    assert 'train.txt' not in messages and 'val.txt does not exist' in messages


def test_command_line_exit_codes(prepared, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('check_dataset_tool', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main([osp.join(BASES, 'cityscapes_768x768.py'), '--split', 'train',
                      '--data-root', prepared['cityscapes']]) == 0
    assert 'OK: 0 error(s), 1 warning(s)' in capsys.readouterr().out
    # One real command line (in a forked process, run_tool(fork=True): a second
    # interpreter costs seconds on a busy machine).
    root = _damaged(prepared, tmp_path, 'cityscapes')
    for path in glob.glob(osp.join(root, 'gtFine', 'train', '*', '*_labelTrainIds.png')):
        os.remove(path)
    bad = run_tool([PYTHON, TOOL, osp.join(BASES, 'cityscapes_768x768.py'), '--split', 'train',
                    '--cfg-options', f'train_dataloader.dataset.data_root={root}',
                    '--max-images', '2'], check=False, fork=True)
    assert bad.returncode == 1 and 'FAILED' in bad.stdout
    assert 'label maps are missing' in bad.stdout
