"""COCO-Stuff-10K / 164K end to end: miniature official release -> our converter
(mmseg's per-file conversion) -> check_dataset -> a few training iterations and
a validation of a toy-sized model on the prepared data."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image
from scipy.io import loadmat

from depict.datasets.checker import check_dataset
from depict.testing import (expected_coco_stuff_train_ids, make_coco_stuff10k_release,
                            make_coco_stuff164k_release)
from depict.utils.config import load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASES = osp.join(REPO, 'configs', '_base_', 'datasets')
TOY = osp.join(REPO, 'configs', 'segmenter', 'segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py')


def converter():
    spec = importlib.util.spec_from_file_location(
        'coco_stuff_tool', osp.join(REPO, 'tools', 'dataset_converters', 'coco_stuff.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    base = tmp_path_factory.mktemp('coco_stuff')
    root10 = make_coco_stuff10k_release(str(base / 'c10'), seed=1)
    root164 = make_coco_stuff164k_release(str(base / 'c164'), seed=1)
    tool = converter()
    assert tool.main(['10k', root10]) == 0
    assert tool.main(['164k', root164, '--nproc', '2']) == 0
    return {'10k': root10, '164k': root164}


def test_train_ids_are_mmseg_conventions(prepared):
    root = prepared['10k']
    names = open(osp.join(root, 'imageLists', 'test.txt')).read().split()
    for name in names:
        raw = loadmat(osp.join(root, 'annotations', f'{name}.mat'))['S']
        out = np.array(Image.open(osp.join(root, 'annotations', 'test2014',
                                           f'{name}_labelTrainIds.png')))
        np.testing.assert_array_equal(out, expected_coco_stuff_train_ids(raw, '10k'))
        assert osp.isfile(osp.join(root, 'images', 'test2014', f'{name}.jpg'))
    root = prepared['164k']
    import glob
    raws = [f for f in glob.glob(osp.join(root, 'annotations', 'val2017', '*.png'))
            if '_labelTrainIds' not in f]
    assert len(raws) == 3
    for path in raws:
        raw = np.array(Image.open(path))
        out = np.array(Image.open(path.replace('.png', '_labelTrainIds.png')))
        np.testing.assert_array_equal(out, expected_coco_stuff_train_ids(raw, '164k'))
        assert 255 in raw or out.max() <= 170


@pytest.mark.parametrize('version,reduce', [('10k', True), ('164k', False)])
@pytest.mark.parametrize('split', ['train', 'val'])
def test_check_dataset_passes(prepared, version, reduce, split):
    cfg = Config.fromfile(osp.join(BASES, f'coco-stuff{version}.py'))
    report = check_dataset(cfg, split, data_root=prepared[version])
    assert not report.errors, report.format()
    assert report.num_classes == 171 and report.reduce_zero_label == reduce
    assert report.num_samples == report.num_scanned > 0
    assert [f.kind for f in report.warnings] == ['count']  # miniature split


def test_converter_errors_name_the_fix(tmp_path, capsys):
    assert converter().main(['10k', str(tmp_path)]) == 1
    assert 'cocostuff-10k-v1.1.zip' in capsys.readouterr().out


def toy_on_coco(version: str, data_root: str, work_dir: str) -> Config:
    """The Segmenter toy config on a prepared COCO-Stuff base: 171 classes, 64 crops."""
    # load_config, as tools/train.py: no yapf formatting of the config text, which
    # the Runner logs and saves several times (most of a toy run's time otherwise).
    cfg = load_config(TOY)
    coco = Config.fromfile(osp.join(BASES, f'coco-stuff{version}.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader_cfg = coco[loader]
        loader_cfg.update(num_workers=0, persistent_workers=False, batch_size=1)
        loader_cfg.dataset.data_root = data_root
        cfg[loader] = loader_cfg
    cfg.train_dataloader.batch_size = 2
    for step in cfg.train_dataloader.dataset.pipeline:
        if step['type'] == 'RandomResize':
            step['scale'] = (256, 64)
        if step['type'] == 'RandomCrop':
            step['crop_size'] = (64, 64)
    test_pipeline = [dict(step, scale=(256, 64)) if step['type'] == 'Resize' else
                     dict(step, window_size=(64, 64)) if step['type'] == 'UpscaleToWindow'
                     else step for step in cfg.val_dataloader.dataset.pipeline]
    cfg.val_dataloader.dataset.pipeline = test_pipeline
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator = cfg.test_evaluator = coco.val_evaluator
    cfg.model.decode_head.num_classes = 171
    cfg.train_cfg.update(max_iters=3, val_interval=3)
    cfg.default_hooks.checkpoint.interval = 3
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = work_dir
    cfg.pop('tta_model', None)
    return cfg


@pytest.mark.parametrize('version', ['10k', '164k'])
def test_toy_model_trains_and_validates(prepared, version, tmp_path):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(toy_on_coco(version, prepared[version], str(tmp_path)))
    runner.train()
    metrics = runner.val_loop.run()
    assert 0.0 <= metrics['mIoU'] <= 100.0 and runner.iter == 3
    assert osp.isfile(osp.join(str(tmp_path), 'iter_3.pth'))
