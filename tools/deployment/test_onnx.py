"""Evaluate an exported ONNX model with its config's test loop:
``python tools/deployment/test_onnx.py CONFIG FILE.onnx [--tta]``.

The config's test dataset, pipeline and metric run as in ``tools/test.py``:
whole or slide inference (``test_cfg``), ``--tta`` multi-scale + flip, the
per-class IoU table and aAcc / mIoU / mAcc. Only the window forward (the
exported graph: normalisation, backbone, decode head) runs in ONNX Runtime
(CPU). The file must come from the same config (its mean / std are checked);
a static export (no ``--dynamic``) runs only windows of its export size.
"""
import argparse
import os.path as osp

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate an ONNX export with its config')
    parser.add_argument('config', help='the config the model was exported from')
    parser.add_argument('onnx', help='the .onnx file (tools/deployment/pytorch2onnx.py)')
    parser.add_argument('--work-dir', help='directory for the metrics JSON and logs')
    parser.add_argument('--tta', action='store_true',
                        help='multi-scale + flip test-time augmentation')
    parser.add_argument('--threads', type=int, default=None,
                        help='ONNX Runtime intra-op threads (default: its own choice)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.test_cfg.mode=whole')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if not osp.isfile(args.onnx):
        raise FileNotFoundError(f'ONNX file {args.onnx} does not exist')
    from mmengine.runner import Runner

    from depict.deploy.onnx import read_contract, use_onnx_window, without_weight_loading
    from depict.engine.tool_setup import setup_tool_config
    read_contract(args.onnx)  # fails early, with the fix, on a file of another tool
    cfg = setup_tool_config(args.config, cfg_options=args.cfg_options, work_dir=args.work_dir)
    cfg.load_from = None
    # The ONNX file holds the weights: build the model without downloading any.
    without_weight_loading(cfg.model)
    if args.tta:
        if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
            raise ValueError(f'--tta needs tta_pipeline and tta_model in {args.config}')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    from depict.engine import check_data_roots
    check_data_roots(cfg, ('test_dataloader', ))
    runner = Runner.from_cfg(cfg)
    model = runner.model
    segmentor = model.module if args.tta else model
    use_onnx_window(segmentor, args.onnx, threads=args.threads)
    return runner.test()


if __name__ == '__main__':
    main()
