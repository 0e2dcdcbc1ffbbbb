"""Slow: every decoder's toy config learns on the toy task.

Trains each toy config for 3 seeds on the toy schedule with
``tools/analysis_tools/toy_sweep.py`` and compares its mean mIoU with
Segmenter's (same seeds). The bar is 0.9x Segmenter's mean. A decoder
below it passes only above its floor (the measured 3-seed ratio less a margin
for thread-count and platform differences) **and** when its documented, measured
reason still holds on the runs just made (docs/toy_dataset.md, "Learning
parity"):

* SegViT ATM (0.86x): its class branch calls absent classes present (it stays
  at the class-frequency prior), while its masks are as good as Segmenter's:
  with the image's classes given to both (``presence_oracle.py``), ATM reaches
  at least 0.9x Segmenter.
* SegViT Shrunk (0.49x): its query upsampler attends uniformly
  (``shrunk_locality.py``: every QU layer within 1.5x of uniform attention), so
  it predicts a position prior (sky above, ground below) and little else.
* DEPICT-CA (0.89x): no separate check; the ratio of 3-seed means carries about
  ±0.07 from Segmenter's own seed spread, and the class-embedding collapse was
  ruled out as a cause (docs/toy_dataset.md).

The 2000-iteration schedule is kept (``ITERS = None``) because that is where
the documented figures were measured: 18 runs, about 25 minutes on 2 idle CPU
cores (2 at a time): ``pytest -m slow tests/test_tools/test_toy_learning.py``.
``DEPICT_TOY_SWEEP_DIR=DIR`` keeps the runs in DIR (``DIR/<config>/seed<S>``, the
layout of ``toy_sweep.py --out-dir``) and reuses the finished ones.
"""
import importlib.util
import os
import os.path as osp
from typing import Callable, Optional

import numpy as np
import pytest

from conftest import REPO

ITERS = None  # the full toy schedule (2000 iterations)
SEEDS = (0, 1, 2)
SEGMENTER = 'configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py'
ATM = 'configs/segvit/segvit_vit-toy_1xb8-2k_toy-64x64.py'
SHRUNK = 'configs/segvit/segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py'
# config -> floor of (mean mIoU / Segmenter's mean mIoU): 0.9, or the measured 3-seed
# ratio less ~0.05 where it is below 0.9 (the reasons: module docstring).
MIN_RATIO = {
    'configs/depict/depict-sa_vit-toy_1xb8-2k_toy-64x64.py': 0.9,  # 0.91 (31.49 / 34.49)
    'configs/depict/depict-ca_vit-toy_1xb8-2k_toy-64x64.py': 0.85,  # 0.89 (30.73 / 34.49)
    ATM: 0.8,  # 0.86 (29.79 / 34.49), class branch at its prior
    SHRUNK: 0.45,  # 0.49 (17.07 / 34.49), sky + ground only
    'configs/repsep/repsep_vit-toy_1xb8-2k_toy-64x64.py': 0.9,  # 1.01 (34.95 / 34.49)
}
BAR = 0.9


def load_tool(name: str):
    path = osp.join(REPO, 'tools', 'analysis_tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def final_checkpoints(out_dir: str, config: str) -> list[str]:
    name = osp.splitext(osp.basename(config))[0]
    paths = []
    for seed in SEEDS:
        seed_dir = osp.join(out_dir, name, f'seed{seed}')
        last = max((f for f in os.listdir(seed_dir) if f.startswith('iter_')),
                   key=lambda f: int(f[len('iter_'):-len('.pth')]))
        paths.append(osp.join(seed_dir, last))
    return paths


def trained(config: str, checkpoint: str):
    """(segmentor in eval mode, validation dataset, config) of a toy config."""
    from mmseg.apis import init_model
    from mmseg.registry import DATASETS

    from depict.utils.config import load_config
    cfg = load_config(osp.join(REPO, config))
    cfg.val_dataloader.dataset.data_root = osp.join(REPO, cfg.val_dataloader.dataset.data_root)
    model = init_model(cfg, checkpoint, device='cpu')
    return model, DATASETS.build(cfg.val_dataloader.dataset), cfg


def atm_reason(out_dir: str) -> Optional[str]:
    """None if ATM's documented reason holds on these runs, else what fails."""
    tool = load_tool('presence_oracle')
    oracle = {}
    rejects_absent = []
    for config in (SEGMENTER, ATM):
        values = []
        for checkpoint in final_checkpoints(out_dir, config):
            model, dataset, _ = trained(config, checkpoint)
            report = tool.presence_report(model, dataset)
            values.append(report.miou[1])
            if config == ATM:  # share of absent classes that the class branch calls absent
                rejects_absent.append(np.nanmean(report.right_without))
        oracle[config] = float(np.mean(values))
    ratio = oracle[ATM] / oracle[SEGMENTER]
    problems = []
    if ratio < BAR:
        problems.append(f'with the classes given, ATM reaches only {ratio:.2f}x Segmenter '
                        f'({oracle[ATM]:.2f} vs {oracle[SEGMENTER]:.2f}): its masks are worse')
    if max(rejects_absent) >= 0.5:
        problems.append(f'its class branch rejects absent classes (share per seed: '
                        f'{rejects_absent}): it is not at its class prior any more')
    return '; '.join(problems) or None


def shrunk_reason(out_dir: str) -> Optional[str]:
    """None if Shrunk's documented reason holds on these runs, else what fails."""
    tool = load_tool('shrunk_locality')
    ratios = []
    for checkpoint in final_checkpoints(out_dir, SHRUNK):
        model, dataset, cfg = trained(SHRUNK, checkpoint)
        crop = cfg.model.data_preprocessor.get('size') or cfg.crop_size
        _, localities = tool.measure(model, dataset, crop)
        ratios.append(max(loc.mass / loc.uniform for loc in localities))
    if max(ratios) >= 1.5:
        return (f'its query upsampler attends locally (best layer {max(ratios):.2f}x uniform '
                f'per seed: {[round(r, 2) for r in ratios]})')
    return None


REASONS: dict[str, Callable[[str], Optional[str]]] = {ATM: atm_reason, SHRUNK: shrunk_reason}


@pytest.mark.slow
def test_every_toy_decoder_reaches_its_ratio_of_segmenter(tmp_path):
    sweep = load_tool('toy_sweep')
    out_dir = os.environ.get('DEPICT_TOY_SWEEP_DIR') or str(tmp_path)
    configs = [osp.join(REPO, c) for c in (SEGMENTER, *MIN_RATIO)]
    summaries = sweep.sweep(configs, SEEDS, out_dir, iters=ITERS, jobs=2)
    reference = summaries[configs[0]].mean
    assert reference > 20, f'Segmenter itself did not learn: {summaries[configs[0]]}'
    ratios = {c: summaries[osp.join(REPO, c)].mean / reference for c in MIN_RATIO}
    failing = {c: round(r, 3) for c, r in ratios.items() if r < MIN_RATIO[c]}
    assert not failing, (f'below their ratio of Segmenter ({reference:.2f} mIoU): {failing}; '
                         f'all: {summaries}')
    unexplained = {c: why for c, r in ratios.items()
                   if r < BAR and c in REASONS and (why := REASONS[c](out_dir))}
    assert not unexplained, f'below {BAR}x and the documented reason no longer holds: {unexplained}'
