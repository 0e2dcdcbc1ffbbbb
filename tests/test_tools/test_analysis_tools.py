"""End-to-end tests of the analysis tools on a toy checkpoint trained in the session.

Every tool runs as a user runs it (its command line on the Segmenter toy config,
forked from a pre-imported interpreter: ``run_tool(fork=True)``, see conftest.py);
the tools only use the model through mmseg's generic interfaces
(``test_step``, the test loop and evaluators, ``MMSegInferencer``), so they
work for every decode head.
"""
import glob
import importlib.util
import json
import os.path as osp
from argparse import Namespace

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import PYTHON, REPO, TOY_CONFIG, fast_cfg_options, run_tool

ITERS = 4


def _load_tool(relpath: str):
    """Imports a tool script as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(relpath))[0],
                                                  osp.join(REPO, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _test_options(data_root: str) -> list[str]:
    return [opt for opt in fast_cfg_options(data_root, ITERS) if opt.startswith('test_dataloader')]


@pytest.fixture(scope='session')
def toy_run(tmp_path_factory, tiny_toy_root) -> dict:
    """A few iterations of the Segmenter toy config through tools/train.py,
    validated at the end on the val set (the toy config's test set too)."""
    work_dir = str(tmp_path_factory.mktemp('toy_run'))
    run_tool([PYTHON, 'tools/train.py', TOY_CONFIG, '--work-dir', work_dir,
              '--cfg-options', *fast_cfg_options(tiny_toy_root, ITERS)], fork=True)
    checkpoint = osp.join(work_dir, f'iter_{ITERS}.pth')
    assert osp.isfile(checkpoint)
    scalars = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))[0]
    val = [json.loads(line) for line in open(scalars) if '"mIoU"' in line]
    return dict(work_dir=work_dir, checkpoint=checkpoint, data_root=tiny_toy_root,
                miou=val[-1]['mIoU'])


def test_tensorboard_event_files(toy_run):
    """default_runtime's TensorboardIfInstalledVisBackend records the scalars."""
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = glob.glob(osp.join(toy_run['work_dir'], '*', 'vis_data', 'events.out.tfevents.*'))
    assert len(events) == 1, events
    accumulator = EventAccumulator(events[0])
    accumulator.Reload()
    tags = set(accumulator.Tags()['scalars'])
    assert {'loss', 'lr', 'mIoU', 'aAcc'} <= tags
    assert len(accumulator.Scalars('loss')) == ITERS  # logger interval 1


def test_confusion_matrix_from_checkpoint_and_predictions(tmp_path, toy_run):
    from_ckpt, preds = str(tmp_path / 'ckpt'), str(tmp_path / 'preds')
    # IoUMetric's output_dir also writes the label maps, as tools/test.py --out does.
    proc = run_tool([PYTHON, 'tools/analysis_tools/confusion_matrix.py', TOY_CONFIG,
                     toy_run['checkpoint'], '--out', from_ckpt, '--work-dir', str(tmp_path / 'w'),
                     '--cfg-options', *_test_options(toy_run['data_root']),
                     f'test_evaluator.output_dir={preds}'], fork=True)
    assert 'most confused' in proc.stdout
    record = json.loads(open(osp.join(from_ckpt, 'confusion_matrix.json')).read())
    assert len(record['classes']) == 8 and np.array(record['counts']).shape == (8, 8)
    # The same mIoU as IoUMetric on the same checkpoint and images.
    assert record['mIoU'] == pytest.approx(toy_run['miou'], abs=0.01)
    assert Image.open(osp.join(from_ckpt, 'confusion_matrix.png')).size[0] >= 500

    # From the label maps on disk (ADE-style +1 offset undone), in-process.
    from mmengine.config import Config
    tool = _load_tool('tools/analysis_tools/confusion_matrix.py')
    cfg = Config.fromfile(TOY_CONFIG)
    cfg.test_dataloader.dataset.data_root = toy_run['data_root']
    from_dir = str(tmp_path / 'dir')
    args = Namespace(config=TOY_CONFIG, source=preds, out=from_dir, normalize='pred',
                     pred_format='auto', title=None)
    tool.from_predictions(cfg, args)
    np.testing.assert_array_equal(np.load(osp.join(from_dir, 'confusion_matrix.npy')),
                                  np.load(osp.join(from_ckpt, 'confusion_matrix.npy')))
    # The stored values: class + 1 for reduce_zero_label datasets, 0 is no class.
    lut = tool._label_lut('auto', reduce_zero_label=True)
    assert lut[1] == 0 and lut[8] == 7 and lut[0] == 255
    assert (tool._label_lut('trainid', reduce_zero_label=True)[:9] == np.arange(9)).all()
    assert tool._label_lut('cityscapes', reduce_zero_label=False)[7] == 0  # road


def test_robustness(tmp_path, toy_run):
    out = str(tmp_path / 'robustness')
    proc = run_tool([PYTHON, 'tools/analysis_tools/robustness.py', TOY_CONFIG,
                     toy_run['checkpoint'], '--corruptions', 'glass_blur', 'gaussian_noise',
                     '--severities', '1', '5', '--out', out, '--work-dir', str(tmp_path / 'w'),
                     '--cfg-options', *_test_options(toy_run['data_root'])], fork=True)
    record = json.load(open(osp.join(out, 'robustness.json')))
    assert set(record['results']) == {'glass_blur', 'gaussian_noise'}
    assert set(record['results']['glass_blur']) == {'1', '5'}
    # The clean run is mmseg's test loop on the same checkpoint and images.
    assert record['clean'] == pytest.approx(toy_run['miou'], abs=0.01)
    means = [record['mean_per_corruption'][c] for c in record['results']]
    assert record['mean_corrupted'] == pytest.approx(np.mean(means))
    rows = open(osp.join(out, 'robustness.csv')).read().splitlines()
    assert rows[0] == 'corruption,severity_1,severity_5,mean' and len(rows) == 4 + 1
    assert Image.open(osp.join(out, 'robustness.png')).size == (1300, 600)
    assert 'gaussian_noise' in proc.stdout and 'mean under corruption' in proc.stdout


def test_benchmark(tmp_path, toy_run):
    out = str(tmp_path / 'bench.json')
    # Odd, non-square input larger than the 64 px slide window: several crops.
    proc = run_tool([PYTHON, 'tools/analysis_tools/benchmark.py', TOY_CONFIG,
                     toy_run['checkpoint'], '--shape', '67', '90', '--repeat', '3',
                     '--warmup', '1', '--device', 'cpu', '--out', out], fork=True)
    result = json.load(open(out))
    assert result['fps'] > 0 and result['shape'] == [67, 90] and result['test_mode'] == 'slide'
    assert result['peak_memory_mb'] > 0 and result['weights_mb'] > 0
    assert 0 < result['decode_head_params_m'] < result['params_m']
    assert 'fps' in proc.stdout


def test_infer(tmp_path, toy_run):
    # At the input size (--display-size 0); the enlarged display is
    # tests/test_tools/test_newcomer_end_to_end.py's.
    images = sorted(glob.glob(osp.join(toy_run['data_root'], 'images', 'validation', '*.jpg')))
    out = str(tmp_path / 'infer')
    run_tool([PYTHON, 'tools/infer.py', TOY_CONFIG, toy_run['checkpoint'], images[0],
              osp.dirname(images[0]), '--out', out, '--save-labels', '--display-size', '0'],
             fork=True)
    from depict.datasets import TOY_CLASSES  # noqa: F401  (palette check below)
    from depict.datasets.toy_generator import TOY_PALETTE
    for path in images:
        stem = osp.splitext(osp.basename(path))[0]
        size = Image.open(path).size
        mask = np.array(Image.open(osp.join(out, f'{stem}_mask.png')))
        labels = np.array(Image.open(osp.join(out, f'{stem}_labels.png')))
        assert Image.open(osp.join(out, f'{stem}_overlay.png')).size == size
        assert mask.shape[:2] == labels.shape == size[::-1]
        np.testing.assert_array_equal(mask, np.asarray(TOY_PALETTE, np.uint8)[labels])
    # The first image was given twice (file and directory): written under a second name.
    assert osp.isfile(osp.join(out, f'{osp.splitext(osp.basename(images[0]))[0]}_2_mask.png'))
    assert osp.isfile(osp.join(out, 'legend.png'))


def test_inference_apis_load_our_checkpoints(tmp_path, toy_run):
    """mmseg's init_model and MMSegInferencer load depict checkpoints (safe loader,
    meta); a checkpoint without dataset_meta takes the config's classes."""
    from mmengine.config import Config
    from mmseg.apis import inference_model, init_model

    from depict.datasets import TOY_CLASSES
    cfg = Config.fromfile(TOY_CONFIG)
    model = init_model(cfg, toy_run['checkpoint'], device='cpu')
    assert tuple(model.dataset_meta['classes']) == tuple(TOY_CLASSES)
    image = sorted(glob.glob(osp.join(toy_run['data_root'], 'images', 'validation', '*')))[0]
    result = inference_model(model, image)
    assert result.pred_sem_seg.data.shape[-2:] == Image.open(image).size[::-1]

    bare = str(tmp_path / 'no_meta.pth')
    state = torch.load(toy_run['checkpoint'], weights_only=True)['state_dict']
    torch.save({'state_dict': state}, bare)
    infer = _load_tool('tools/infer.py')
    inferencer = infer.build_inferencer(Config.fromfile(TOY_CONFIG), bare, 'cpu')
    assert tuple(inferencer.model.dataset_meta['classes']) == tuple(TOY_CLASSES)
    sample = inferencer(image, return_datasamples=True)
    torch.testing.assert_close(sample.pred_sem_seg.data, result.pred_sem_seg.data)
