"""mIoU of a segmentor under the common image corruptions.

    python tools/analysis_tools/robustness.py CONFIG CHECKPOINT \\
        [--corruptions common|noise|blur|weather|digital|NAME ...] \\
        [--severities 1 2 3 4 5] [--out DIR]

For the clean test set and each (corruption, severity) the config's test set
is evaluated by mmseg's own test loop and evaluator, with an
``ImageCorruption`` transform (:mod:`depict.datasets.transforms.corruption`) inserted
right after ``LoadImageFromFile``: images are corrupted at their original
resolution, before the test pipeline resizes them. The model is built and
loaded once.

Writes ``DIR/robustness.json`` (every number), ``robustness.csv`` (corruption x
severity mIoU table) and ``robustness.png`` (mIoU against severity per
corruption, and the mean over corruptions per severity), and prints the table.
Default: the 15 standard corruptions x 5 severities = 75 test runs + 1 clean.
"""
import argparse
import copy
import csv
import json
import os
import os.path as osp
import time

import numpy as np
from mmengine.config import Config, DictAction

GROUPS = {
    'noise': ('gaussian_noise', 'shot_noise', 'impulse_noise'),
    'blur': ('defocus_blur', 'glass_blur', 'motion_blur', 'zoom_blur'),
    'weather': ('snow', 'frost', 'fog', 'brightness'),
    'digital': ('contrast', 'elastic_transform', 'pixelate', 'jpeg_compression'),
    'validation': ('speckle_noise', 'gaussian_blur', 'spatter', 'saturate'),
}
GROUPS['common'] = sum((GROUPS[g] for g in ('noise', 'blur', 'weather', 'digital')), ())
GROUPS['all'] = GROUPS['common'] + GROUPS['validation']


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mIoU under common corruptions')
    parser.add_argument('config', help='test config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--corruptions', nargs='+', default=['common'],
                        help='corruption names and/or groups: ' + ', '.join(GROUPS) +
                        ' (default: common, the 15 standard ones)')
    parser.add_argument('--severities', nargs='+', type=int, default=[1, 2, 3, 4, 5],
                        choices=[1, 2, 3, 4, 5], help='severities (default: 1-5)')
    parser.add_argument('--seed', type=int, default=0,
                        help='corruption seed (mixed with each image name)')
    parser.add_argument('--metric', default='mIoU', help='evaluator key to report')
    parser.add_argument('--out', help='output directory (default: <work dir>/robustness)')
    parser.add_argument('--work-dir', help='log directory (default: ./work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. test_dataloader.dataset.data_root=...')
    return parser.parse_args()


def expand_corruptions(names: list[str]) -> list[str]:
    corruptions = []
    for name in names:
        for item in GROUPS.get(name, (name, )):
            if item not in GROUPS['all']:
                raise SystemExit(f'unknown corruption {item!r}: choose from '
                                 f'{", ".join(GROUPS["all"])} or a group ({", ".join(GROUPS)})')
            if item not in corruptions:
                corruptions.append(item)
    return corruptions


def corrupted_dataloader(cfg: Config, corruption: str, severity: int, seed: int) -> dict:
    """The config's test dataloader with ``ImageCorruption`` after ``LoadImageFromFile``."""
    loader = copy.deepcopy(cfg.test_dataloader)
    pipeline = loader.dataset.pipeline
    index = next((i for i, t in enumerate(pipeline) if t['type'] == 'LoadImageFromFile'), None)
    if index is None:
        raise ValueError('the test pipeline has no LoadImageFromFile to insert the '
                         'corruption after')
    pipeline.insert(index + 1, dict(type='ImageCorruption', corruption=corruption,
                                    severity=severity, seed=seed))
    return loader


def _metric(metrics: dict, key: str) -> float:
    for name, value in metrics.items():
        if name == key or name.endswith('/' + key):
            return float(value)
    raise KeyError(f'the evaluator reports {sorted(metrics)}, not {key}: use --metric')


def write_outputs(out: str, record: dict) -> None:
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'robustness.json'), 'w') as f:
        json.dump(record, f, indent=1)
    severities = record['severities']
    with open(osp.join(out, 'robustness.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['corruption', *[f'severity_{s}' for s in severities], 'mean'])
        writer.writerow(['clean', *[f'{record["clean"]:.2f}'] * len(severities),
                         f'{record["clean"]:.2f}'])
        for name, row in record['results'].items():
            writer.writerow([name, *[f'{row[str(s)]:.2f}' for s in severities],
                             f'{record["mean_per_corruption"][name]:.2f}'])
        per_severity = record['mean_per_severity']
        writer.writerow(['mean', *[f'{per_severity[str(s)]:.2f}' for s in severities],
                         f'{record["mean_corrupted"]:.2f}'])
    plot(record, osp.join(out, 'robustness.png'))


def plot(record: dict, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    severities = [0] + record['severities']
    key = record['metric']
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 6), dpi=100,
                                      gridspec_kw=dict(width_ratios=[3, 2]))
    styles = {'noise': '-', 'blur': '--', 'weather': '-.', 'digital': ':', 'validation': '-'}
    tab20 = plt.get_cmap('tab20')

    def colours(i: int):  # the strong tab20 shades first, then the light ones
        return tab20((2 * i) % 20 + (2 * i // 20) % 2)
    for i, (name, row) in enumerate(record['results'].items()):
        group = next(g for g in ('noise', 'blur', 'weather', 'digital', 'validation')
                     if name in GROUPS[g])
        values = [record['clean']] + [row[str(s)] for s in record['severities']]
        left.plot(severities, values, styles[group], marker='o', markersize=3,
                  color=colours(i), label=name)
    mean = [record['clean']] + [record['mean_per_severity'][str(s)] for s in record['severities']]
    left.plot(severities, mean, 'k-', linewidth=3, label='mean')
    left.set_xticks(severities, labels=['clean'] + [str(s) for s in record['severities']])
    left.set_xlabel('severity')
    left.set_ylabel(key)
    left.grid(alpha=0.3)
    left.legend(fontsize=7, ncol=4, loc='upper center', bbox_to_anchor=(0.5, -0.12))
    names = list(record['mean_per_corruption'])
    right.barh(range(len(names)), [record['mean_per_corruption'][n] for n in names],
               color=[colours(i) for i in range(len(names))])
    right.axvline(record['clean'], color='k', linestyle='--', label=f'clean {record["clean"]:.1f}')
    right.set_yticks(range(len(names)), labels=names, fontsize=8)
    right.invert_yaxis()
    right.set_xlabel(f'{key}, mean over severities')
    right.legend(fontsize=8)
    fig.suptitle(f'{record["name"]}: clean {record["clean"]:.2f}, corrupted mean '
                 f'{record["mean_corrupted"]:.2f} {key} '
                 f'({100 * record["relative"]:.0f}% of clean)', fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def print_table(record: dict) -> None:
    severities = record['severities']
    width = max(len(n) for n in list(record['results']) + ['corruption'])
    header = f'{"corruption":<{width}} ' + ' '.join(f'{"s" + str(s):>6}' for s in severities)
    print(header + f' {"mean":>6}')
    print(f'{"clean":<{width}} ' + ' '.join(f'{record["clean"]:6.2f}' for _ in severities)
          + f' {record["clean"]:6.2f}')
    for name, row in record['results'].items():
        print(f'{name:<{width}} ' + ' '.join(f'{row[str(s)]:6.2f}' for s in severities)
              + f' {record["mean_per_corruption"][name]:6.2f}')
    print(f'{"mean":<{width}} ' + ' '.join(f'{record["mean_per_severity"][str(s)]:6.2f}'
                                          for s in severities)
          + f' {record["mean_corrupted"]:6.2f}')
    print(f'{record["metric"]}: clean {record["clean"]:.2f}, mean under corruption '
          f'{record["mean_corrupted"]:.2f} ({100 * record["relative"]:.1f}% of clean)')


def main() -> None:
    args = parse_args()
    corruptions = expand_corruptions(args.corruptions)
    severities = sorted(set(args.severities))
    # custom_imports registers depict (ImageCorruption). load_config, as tools/test.py:
    # without it the Runner formats the config text with yapf several times (found
    # profiling confusion_matrix.py, which builds its Runner the same way: half its time).
    from depict.utils.config import load_config
    cfg = load_config(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    out = args.out or osp.join(cfg.work_dir, 'robustness')
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    cfg.load_from = args.checkpoint

    from mmengine.runner import Runner, TestLoop

    from depict.engine import check_data_roots
    check_data_roots(cfg, ('test_dataloader', ))
    runner = Runner.from_cfg(cfg)
    runner.call_hook('before_run')
    runner.load_or_resume()  # once: every run below reuses the loaded model

    def evaluate(loader_cfg) -> dict:
        return TestLoop(runner, loader_cfg, copy.deepcopy(cfg.test_evaluator)).run()

    start = time.time()
    clean_metrics = evaluate(copy.deepcopy(cfg.test_dataloader))
    clean = _metric(clean_metrics, args.metric)
    results, details = {}, {}
    for corruption in corruptions:
        results[corruption], details[corruption] = {}, {}
        for severity in severities:
            metrics = evaluate(corrupted_dataloader(cfg, corruption, severity, args.seed))
            results[corruption][str(severity)] = _metric(metrics, args.metric)
            details[corruption][str(severity)] = {k: float(v) for k, v in metrics.items()}
            runner.logger.info(f'robustness: {corruption} severity {severity}: '
                               f'{args.metric} {results[corruption][str(severity)]:.2f}')
    runner.call_hook('after_run')

    per_corruption = {name: float(np.mean(list(row.values()))) for name, row in results.items()}
    per_severity = {str(s): float(np.mean([results[c][str(s)] for c in corruptions]))
                    for s in severities}
    mean_corrupted = float(np.mean(list(per_corruption.values())))
    record = dict(
        name=osp.splitext(osp.basename(args.config))[0], config=args.config,
        checkpoint=args.checkpoint, metric=args.metric, seed=args.seed, severities=severities,
        clean=clean, clean_metrics={k: float(v) for k, v in clean_metrics.items()},
        results=results, metrics=details, mean_per_corruption=per_corruption,
        mean_per_severity=per_severity, mean_corrupted=mean_corrupted,
        relative=mean_corrupted / clean if clean else float('nan'),
        seconds=round(time.time() - start, 1))
    write_outputs(out, record)
    print_table(record)
    print(f'wrote {osp.join(out, "robustness.png")} (+ .json, .csv)')


if __name__ == '__main__':
    main()
