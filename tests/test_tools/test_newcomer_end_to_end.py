"""What a newcomer sees: a quiet start, and inference PNGs that are easy to read.

One toy training run (2 iterations) feeds both checks.
"""
import glob
import importlib.util
import os.path as osp
import re
import sys
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, TOY_CONFIG, fast_cfg_options, run_tool

from depict.datasets import TOY_CLASSES

PYTHON = sys.executable
TOOLS = osp.join(REPO, 'tools')

#: Warnings we caused (or that are irrelevant here) and that no start may print.
SILENCED = {
    # our toy base passed reduce_zero_label to LoadAnnotations (mmseg deprecates it)
    'reduce_zero_label': '`reduce_zero_label` will be deprecated',
    # mmcv-lite has no deformable attention; nothing here uses it
    'deformable attention': 'MultiScaleDeformableAttention',
    # infer.py: the config's logging backends without a work dir
    'vis backend': 'Failed to add <class',
    # infer.py: mmengine looked up collate_fn in mmseg's missing "function" registry
    'registry scope': 'Failed to search registry with scope',
}


#: Every warning a toy training start prints with Python's default warning
#: filters (what a newcomer sees), by kind and exact message, with its source.
#: All come from mmengine / mmseg defaults; any other warning fails the test.
ALLOWED_TRAINING_WARNINGS = {
    # mmengine's BaseMetric: mmseg's IoUMetric has no default prefix
    ('WARNING', 'The prefix is not set in metric class IoUMetric.'),
    # mmengine's fileio deprecations, at the first file read of a loader
    ('WARNING', '"FileClient" will be deprecated in future. Please use io functions in '
                'https://mmengine.readthedocs.io/en/latest/api/fileio.html#file-io'),
    ('WARNING', '"HardDiskBackend" is the alias of "LocalBackend" and the former will be '
                'deprecated in future.'),
    # mmseg's BaseDecodeHead builds its losses with its own deprecated build_loss
    ('UserWarning', '``build_loss`` would be deprecated soon, please use '
                    '``mmseg.registry.MODELS.build()``'),
    # mmseg's CrossEntropyLoss, kept at its default as Segmenter's configs do
    ('UserWarning', 'Default ``avg_non_ignore`` is False, if you would like to ignore the '
                    'certain label and average loss over non-ignore labels, which is the same '
                    'with PyTorch official cross_entropy, set ``avg_non_ignore=True``.'),
    # mmseg's SegVisualizationHook, draw=False by default (mmseg's runtime)
    ('UserWarning', 'The draw is False, it means that the hook for visualization will not '
                    'take effect. The results will NOT be visualized or stored.'),
}

_LOGGED = re.compile(r' - [\w.]+ - (?P<kind>WARNING) - (?P<message>.*)$')
_PYTHON = re.compile(r'^\S+:\d+: (?P<kind>\w*Warning): (?P<message>.*)$')


def printed_warnings(output: str) -> list[tuple[str, str]]:
    """(kind, message) of every warning in ``output``: logger WARNING records,
    Python warnings (the source line Python echoes after one is skipped), and
    any other line that mentions a warning, as ('unparsed', line)."""
    found, echo = [], False
    for line in output.splitlines():
        if echo:  # Python prints the warning's source line after it
            echo = False
            continue
        match = _PYTHON.match(line) or _LOGGED.search(line)
        if match:
            found.append((match['kind'], match['message'].rstrip()))
            echo = match.re is _PYTHON
        elif 'warn' in line.lower():
            found.append(('unparsed', line.rstrip()))
    return found


@pytest.fixture(scope='module')
def trained(tiny_toy_root, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('newcomer'))
    # Python's default warning filters, as a newcomer's shell has them (the
    # test tools otherwise run with PYTHONWARNINGS=ignore).
    proc = run_tool([PYTHON, osp.join(TOOLS, 'train.py'), TOY_CONFIG, '--work-dir', work_dir,
                     '--cfg-options', *fast_cfg_options(tiny_toy_root, iters=2)],
                    env={'PYTHONWARNINGS': ''})
    return work_dir, proc


def _assert_quiet(proc):
    out = proc.stdout + proc.stderr
    for what, text in SILENCED.items():
        assert text not in out, f'{what} warning printed:\n{out[-3000:]}'


def test_training_starts_quietly(trained):
    """The start prints the listed upstream warnings and nothing else."""
    _, proc = trained
    _assert_quiet(proc)
    printed = printed_warnings(proc.stdout + proc.stderr)
    unexpected = [w for w in printed if w not in ALLOWED_TRAINING_WARNINGS]
    assert not unexpected, f'new warnings at the start of training: {unexpected}'


def test_warning_parser_reads_both_forms():
    output = ('12/05 19:13:03 - mmengine - WARNING - The prefix is not set in metric class '
              'IoUMetric.\n'
              '/x/mmseg/engine/hooks/visualization_hook.py:60: UserWarning: The draw is False\n'
              "  warnings.warn('The draw is False, it means that the '\n"
              '12/05 19:13:03 - mmengine - INFO - Checkpoints will be saved\n'
              'a RuntimeWarning printed by hand\n')
    assert printed_warnings(output) == [
        ('WARNING', 'The prefix is not set in metric class IoUMetric.'),
        ('UserWarning', 'The draw is False'),
        ('unparsed', 'a RuntimeWarning printed by hand')]


def _infer_module():
    spec = importlib.util.spec_from_file_location('infer_tool', osp.join(TOOLS, 'infer.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_infer_panel_upscale_and_class_names(trained, tiny_toy_root, tmp_path):
    work_dir, _ = trained
    image_dir = osp.join(tiny_toy_root, 'images', 'validation')
    gt_dir = osp.join(tiny_toy_root, 'annotations', 'validation')
    out = str(tmp_path / 'pred')
    proc = run_tool([PYTHON, osp.join(TOOLS, 'infer.py'), TOY_CONFIG,
                     osp.join(work_dir, 'iter_2.pth'), image_dir, '--out', out, '--panel',
                     '--gt-dir', gt_dir, '--save-labels', '--display-size', '400',
                     '--cfg-options', f'test_dataloader.dataset.data_root={tiny_toy_root}'])
    _assert_quiet(proc)
    image_path = sorted(glob.glob(osp.join(image_dir, '*.jpg')))[0]
    stem = osp.splitext(osp.basename(image_path))[0]
    width, height = Image.open(image_path).size
    scale = 400 // max(width, height)
    assert scale >= 2  # the toy images are small: enlarged for display
    mask = Image.open(osp.join(out, f'{stem}_mask.png'))
    assert mask.size == (width * scale, height * scale)
    assert Image.open(osp.join(out, f'{stem}_overlay.png')).size == mask.size
    labels = np.array(Image.open(osp.join(out, f'{stem}_labels.png')))
    assert labels.shape == (height, width)  # for processing: the input size
    # Nearest-neighbour: each label pixel is a solid scale x scale block.
    mask_arr = np.array(mask)
    assert (mask_arr[::scale, ::scale] == mask_arr[scale - 1::scale, scale - 1::scale]).all()
    # image | prediction | overlay | ground truth, 4-pixel gaps.
    infer = _infer_module()
    panel = np.array(Image.open(osp.join(out, f'{stem}_panel.png')))
    assert panel.shape == (height * scale, 4 * width * scale + 3 * infer.PANEL_GAP, 3)
    gt_part = panel[:, 3 * (width * scale + infer.PANEL_GAP):]
    gt = infer.read_gt(osp.join(gt_dir, f'{stem}.png'), True, (height, width))
    palette = infer.make_palette(TOY_CLASSES, None)  # only for the ignore colour check
    assert (gt_part[::scale, ::scale][gt == 255] == 0).all()  # ignored: black
    assert palette.shape == (len(TOY_CLASSES), 3)
    # Class names, not indices, in the printed summary and the legend.
    summary = [line for line in proc.stdout.splitlines() if line.startswith(image_path)][0]
    assert any(name in summary for name in TOY_CLASSES)
    entries = infer.legend_entries(TOY_CLASSES, Counter({2: 10, 0: 30}))
    assert entries == [(0, TOY_CLASSES[0]), (2, TOY_CLASSES[2])]
