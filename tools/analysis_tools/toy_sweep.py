"""Train configs for several seeds and summarise their mIoU (mean ± spread).

Usage::

    python tools/analysis_tools/toy_sweep.py CONFIG [CONFIG ...] --seeds 0 1 2 \\
        [--iters 1000] [--jobs 2] [--out-dir work_dirs/toy_sweep] \\
        [--cfg-options KEY=VALUE ...] [--plot curves.png]
    python tools/analysis_tools/toy_sweep.py --compare LABEL=RUN_DIR [LABEL=RUN_DIR ...] \
        --plot curves.png

Each (config, seed) is one ``tools/train.py`` run in ``OUT_DIR/<config>/seed<S>``
with ``randomness.seed=S``; a run whose ``scalars.json`` already holds a final
mIoU is read, not retrained, so an interrupted sweep resumes. ``--iters N``
shortens an iteration-based schedule: ``max_iters`` and ``val_interval`` become
N and the last (poly) scheduler ends at N, so the learning rate still decays to
its end value. The table reports the last validation mIoU per seed, the mean and
the spread (half the range); ``summary.json`` holds the same plus every run's
per-iteration training loss, which ``--plot`` draws (mean over seeds).
``--compare`` trains nothing: it reads finished sweeps (each RUN_DIR is one
``OUT_DIR/<config>`` folder of ``seed<S>`` runs, possibly from different
sweeps and options), prints their table and plots them side by side, e.g. the
best and worst settings of an ablation.

This is how docs/toy_dataset.md's ablation table was measured; the toy
decoders' slow test (tests/test_tools/test_toy_learning.py) uses the same
functions.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from glob import glob
from typing import NamedTuple, Optional, Sequence

from mmengine.config import Config, DictAction

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class Summary(NamedTuple):
    """mIoU of one setting over seeds."""
    mean: float
    spread: float  # half the range (max - min) / 2
    values: tuple[float, ...]


def shortened_options(config: str, iters: int) -> dict:
    """cfg-options that shorten CONFIG's iteration-based schedule to ``iters``."""
    cfg = Config.fromfile(config)
    if cfg.train_cfg.get('type') != 'IterBasedTrainLoop':
        raise ValueError(f'{config}: --iters needs an IterBasedTrainLoop, got '
                         f'{cfg.train_cfg.get("type")!r}')
    options = {'train_cfg.max_iters': iters, 'train_cfg.val_interval': iters}
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    if schedulers:
        last = schedulers[-1]
        if last.get('by_epoch', True):
            raise ValueError(f'{config}: --iters needs by_epoch=False schedulers')
        if last.get('begin', 0) >= iters:
            raise ValueError(f'{config}: --iters {iters} ends before the last scheduler '
                             f'begins (iteration {last["begin"]}); use more iterations')
        key = 'param_scheduler.end' if isinstance(cfg.param_scheduler, dict) else \
            f'param_scheduler.{len(schedulers) - 1}.end'
        options[key] = iters
    return options


def read_scalars(work_dir: str) -> list[dict]:
    """The records of the newest ``scalars.json`` under ``work_dir`` (mmengine layout)."""
    files = sorted(glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        return []
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def final_miou(records: Sequence[dict], at_step: Optional[int] = None) -> Optional[float]:
    """The last validation mIoU in ``records`` (None if there is none).

    With ``at_step`` only a validation at that iteration counts: a run stopped
    after an intermediate validation is not finished.
    """
    values = [r for r in records if 'mIoU' in r]
    if not values or (at_step is not None and values[-1].get('step') != at_step):
        return None
    return values[-1]['mIoU']


def max_iters(config: str, options: Optional[dict] = None) -> Optional[int]:
    """``train_cfg.max_iters`` of CONFIG after ``options`` (None if not iteration-based)."""
    cfg = Config.fromfile(config)
    if options:
        cfg.merge_from_dict(options)
    return cfg.train_cfg.get('max_iters')


def loss_curve(records: Sequence[dict], key: str = 'loss') -> list[tuple[int, float]]:
    """(iteration, training loss) pairs, as logged."""
    return [(r['step'], r[key]) for r in records if key in r and 'step' in r]


def summarise(values: Sequence[float]) -> Summary:
    return Summary(statistics.fmean(values), (max(values) - min(values)) / 2, tuple(values))


def train_seed(config: str, seed: int, work_dir: str, *, iters: Optional[int] = None,
               cfg_options: Optional[dict] = None, python: str = sys.executable) -> float:
    """Trains CONFIG with ``randomness.seed=seed`` (unless already done) -> final mIoU."""
    options = dict(shortened_options(config, iters)) if iters else {}
    options['randomness.seed'] = seed
    options.update(cfg_options or {})
    last = max_iters(config, options)
    done = final_miou(read_scalars(work_dir), at_step=last)
    if done is not None:
        return done
    command = [python, osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', work_dir,
               '--cfg-options'] + [f'{key}={value}' for key, value in options.items()]
    os.makedirs(work_dir, exist_ok=True)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [REPO, env.get('PYTHONPATH')]))
    with open(osp.join(work_dir, 'train.log'), 'w') as log:
        result = subprocess.run(command, cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError(f'training {config} (seed {seed}) failed with exit code '
                           f'{result.returncode}; see {osp.join(work_dir, "train.log")}')
    miou = final_miou(read_scalars(work_dir), at_step=last)
    if miou is None:
        raise RuntimeError(f'{work_dir}: training finished without a validation mIoU; '
                           f'does the schedule validate at its last iteration?')
    return miou


def sweep(configs: Sequence[str], seeds: Sequence[int], out_dir: str, *,
          iters: Optional[int] = None, cfg_options: Optional[dict] = None,
          jobs: int = 1) -> dict[str, Summary]:
    """Every (config, seed) run, ``jobs`` at a time -> summary per config."""
    runs = [(config, seed) for config in configs for seed in seeds]

    def one(run: tuple[str, int]) -> float:
        config, seed = run
        name = osp.splitext(osp.basename(config))[0]
        return train_seed(config, seed, osp.join(out_dir, name, f'seed{seed}'), iters=iters,
                          cfg_options=cfg_options)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        values = list(pool.map(one, runs))
    by_config: dict[str, list[float]] = {}
    for (config, _), value in zip(runs, values):
        by_config.setdefault(config, []).append(value)
    return {config: summarise(v) for config, v in by_config.items()}


def read_setting(run_dir: str) -> tuple[Summary, list[list[tuple[int, float]]], list[str]]:
    """Finished ``seed<S>`` runs under ``run_dir`` -> (mIoU summary, loss curves, seeds)."""
    seeds, values, curves = [], [], []
    for seed_dir in sorted(glob(osp.join(run_dir, 'seed*'))):
        records = read_scalars(seed_dir)
        # mmengine dumps the run's config into its work dir: its length says
        # whether the last validation is the final one.
        dumped = glob(osp.join(seed_dir, '*.py'))
        miou = final_miou(records, at_step=max_iters(dumped[0]) if dumped else None)
        if miou is None:
            continue  # unfinished run
        seeds.append(osp.basename(seed_dir)[len('seed'):])
        values.append(miou)
        curves.append(loss_curve(records))
    if not values:
        raise FileNotFoundError(f'{run_dir}: no finished seed<S> run (a folder of '
                                f'toy_sweep.py --out-dir, named after its config)')
    return summarise(values), curves, seeds


def plot_curves(curves: dict[str, list[list[tuple[int, float]]]], path: str,
                title: str = 'training loss') -> None:
    """Mean (over seeds) training loss per setting, one panel per setting."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    # One y axis per panel: the decoders' losses differ in kind (CE, ATM's sum).
    fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3), squeeze=False)
    for ax, (label, runs) in zip(axes[0], curves.items()):
        for run in runs:
            ax.plot(*zip(*run), alpha=0.35, linewidth=0.8)
        steps = sorted(set.intersection(*(set(s for s, _ in run) for run in runs)))
        mean = [statistics.fmean(dict(run)[s] for run in runs) for s in steps]
        ax.plot(steps, mean, color='black', linewidth=1.5, label='mean')
        ax.set_title(label, fontsize=9)
        ax.set_xlabel('iteration')
        ax.set_yscale('log')
    axes[0][0].set_ylabel(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Multi-seed mIoU of configs')
    parser.add_argument('configs', nargs='*', help='config files')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--iters', type=int, help='shorten the schedule to this many iterations')
    parser.add_argument('--jobs', type=int, default=1, help='runs at a time')
    parser.add_argument('--out-dir', default=osp.join('work_dirs', 'toy_sweep'))
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides applied to every config')
    parser.add_argument('--plot', help='write the mean training-loss curves to this image')
    parser.add_argument('--compare', nargs='+', metavar='LABEL=RUN_DIR',
                        help='read finished runs instead of training: RUN_DIR = '
                        'OUT_DIR/<config> of a sweep')
    args = parser.parse_args()
    if bool(args.configs) == bool(args.compare):
        parser.error('give config files to train, or --compare LABEL=RUN_DIR ... to read '
                     'finished runs (not both)')
    for entry in args.compare or []:
        if '=' not in entry:
            parser.error(f'--compare {entry!r}: expected LABEL=RUN_DIR')
    return args


def compare(entries: Sequence[str], plot: Optional[str]) -> None:
    """Table (and plot) of finished settings given as LABEL=RUN_DIR."""
    curves = {}
    print('| setting | mIoU mean ± spread | per seed |')
    print('|---|---|---|')
    for entry in entries:
        label, run_dir = entry.split('=', 1)
        summary, runs, seeds = read_setting(run_dir)
        curves[label] = runs
        per_seed = ' / '.join(f'{v:.2f}' for v in summary.values)
        print(f'| {label} | {summary.mean:.2f} ± {summary.spread:.2f} | {per_seed} '
              f'(seeds {", ".join(seeds)}) |')
    if plot:
        plot_curves(curves, plot)


def main() -> None:
    args = parse_args()
    if args.compare:
        try:
            compare(args.compare, args.plot)
        except FileNotFoundError as error:
            sys.exit(f'toy_sweep.py --compare: {error}')
        return
    summaries = sweep(args.configs, args.seeds, args.out_dir, iters=args.iters,
                      cfg_options=args.cfg_options, jobs=args.jobs)
    report, curves = {}, {}
    print(f'| config | mIoU mean ± spread | seeds {" / ".join(map(str, args.seeds))} |')
    print('|---|---|---|')
    for config, summary in summaries.items():
        name = osp.splitext(osp.basename(config))[0]
        runs = [loss_curve(read_scalars(osp.join(args.out_dir, name, f'seed{s}')))
                for s in args.seeds]
        curves[name] = runs
        report[name] = dict(summary._asdict(), seeds=args.seeds, iters=args.iters, loss=runs)
        print(f'| {name} | {summary.mean:.2f} ± {summary.spread:.2f} | '
              f'{" / ".join(f"{v:.2f}" for v in summary.values)} |')
    with open(osp.join(args.out_dir, 'summary.json'), 'w') as f:
        json.dump(report, f)
    if args.plot:
        plot_curves(curves, args.plot)


if __name__ == '__main__':
    main()
