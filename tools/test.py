"""Test (and evaluate) a segmentor: ``python tools/test.py CONFIG CHECKPOINT``.

Prints the per-class IoU table and aAcc / mIoU / mAcc. ``--tta`` runs
multi-scale + flip testing with the config's ``tta_pipeline`` and ``tta_model``.
``--out DIR`` also writes every prediction as a PNG in the format of the
benchmark's server / official evaluator (Cityscapes: ``*_leftImg8bit.png`` with
label ids; ADE20K, PASCAL Context: label maps with ``reduce_zero_label``
undone); with ``--format-only`` nothing is evaluated, for test splits without
annotations.
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for the metrics JSON and logs')
    parser.add_argument('--out', help='directory to write the predictions to, as the '
                        'benchmark server / official evaluator reads them (Cityscapes: '
                        'label-id *_leftImg8bit.png; others: label-map PNGs)')
    parser.add_argument('--format-only', action='store_true',
                        help='with --out: only write predictions; evaluate nothing and load '
                        'no annotations (test splits)')
    parser.add_argument('--show', action='store_true', help='show predictions')
    parser.add_argument('--show-dir', help='directory to save painted predictions to')
    parser.add_argument('--wait-time', type=float, default=2, help='--show interval (s)')
    parser.add_argument('--tta', action='store_true',
                        help='multi-scale + flip test-time augmentation')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. model.test_cfg.mode=whole')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=None)
    return parser.parse_args()


def enable_visualization(cfg: Config, args: argparse.Namespace) -> None:
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError('--show/--show-dir need default_hooks.visualization='
                           "dict(type='SegVisualizationHook') in the config")
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir


def main() -> None:
    args = parse_args()
    # Config, --cfg-options, work dir, launcher environment: as tools/train.py.
    from depict.engine.tool_setup import setup_tool_config
    cfg = setup_tool_config(args.config, launcher=args.launcher, cfg_options=args.cfg_options,
                            work_dir=args.work_dir, local_rank=args.local_rank)
    # Local files, URLs and model-zoo schemes all load through depict's safe loader.
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
            raise ValueError(f'--tta needs tta_pipeline and tta_model in {args.config}')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        from depict.evaluation import add_prediction_writer
        add_prediction_writer(cfg, args.out, format_only=args.format_only)
    elif args.format_only:
        raise ValueError('--format-only needs --out DIR')

    from depict.engine import configure_checkpointing
    configure_checkpointing(cfg)  # a checkpoint that does not fit the model fails, keys listed

    # Registered already through the config's custom_imports; helpers only.
    from depict.engine import check_data_roots, setup_cpu_distributed, setup_cpu_threads
    check_data_roots(cfg, ('test_dataloader', ))
    setup_cpu_distributed(cfg, args.launcher)
    setup_cpu_threads(cfg, 'test_dataloader')  # without CUDA: threads from the usable cores

    runner = Runner.from_cfg(cfg)
    runner.test()
    from depict.engine import shutdown_distributed
    shutdown_distributed()  # a clean exit code from every rank (see its docstring)


if __name__ == '__main__':
    main()
