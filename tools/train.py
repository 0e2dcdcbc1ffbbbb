"""Train a segmentor: ``python tools/train.py CONFIG [options]``.

mmseg's ``tools/train.py`` with what this project needs on top: ``--resume``
takes an optional checkpoint and resumes exactly (random-number states and
data order, see :mod:`depict.engine.resume_hook`), checkpoints are saved
atomically and loaded strictly (:mod:`depict.engine.checkpointing`), and
multi-process runs work without CUDA (gloo; see :mod:`depict.engine.dist`).
"""
import argparse
import logging

import torch
from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto', default=None, metavar='CKPT',
        help='resume training: bare, from the latest intact checkpoint in the work dir '
        '(an error if there is none); with a path, from that checkpoint')
    parser.add_argument('--amp', action='store_true', help='mixed-precision training')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. train_cfg.max_iters=100 '
        'optim_wrapper.optimizer.lr=0.01 (lists as key="[a,b]")')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=None)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # Config, --cfg-options, work dir (CLI > config > ./work_dirs/<config name>),
    # launcher environment: as tools/test.py.
    from depict.engine.tool_setup import setup_tool_config
    cfg = setup_tool_config(args.config, launcher=args.launcher, cfg_options=args.cfg_options,
                            work_dir=args.work_dir, local_rank=args.local_rank)

    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in the config.',
                      logger='current', level=logging.WARNING)
        elif wrapper != 'OptimWrapper':
            raise ValueError(f'--amp needs optim_wrapper.type=OptimWrapper, got {wrapper}')
        elif torch.cuda.is_available():
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        else:
            # mmengine's AmpOptimWrapper needs an accelerator; bf16 autocast on
            # the CPU needs no loss scaling.
            cfg.optim_wrapper.type = 'AutocastOptimWrapper'
            cfg.optim_wrapper.setdefault('dtype', 'bfloat16')

    # Atomic saves, strict loads, exact resume. Bare --resume ('auto'): the work
    # dir's newest intact checkpoint, or an error naming the work dir.
    from depict.engine import configure_checkpointing
    configure_checkpointing(cfg, resume=args.resume)

    # The config's custom_imports has already imported (and registered) depict;
    # the tool only borrows two helpers from it.
    from depict.engine import check_data_roots, setup_cpu_distributed, setup_cpu_threads
    check_data_roots(cfg, ('train_dataloader', 'val_dataloader'))
    setup_cpu_distributed(cfg, args.launcher)
    setup_cpu_threads(cfg, 'train_dataloader')  # without CUDA: threads from the usable cores

    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else None
    if runner is None:
        from mmseg.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    runner.train()
    from depict.engine import shutdown_distributed
    shutdown_distributed()  # a clean exit code from every rank (see its docstring)


if __name__ == '__main__':
    main()
