"""FLOPs of a segmentor as the papers count them:
``python tools/analysis_tools/get_flops.py CONFIG --shape H W``.

Counts multiply-accumulates (fvcore's convention, mmengine's FlopAnalyzer) of
one inference window of size H x W: backbone, neck, and the decoder including
its prediction post-processing (``encode_decode``), for every head of this
project and mmseg's own (mmseg's get_flops stops at ``forward`` and refuses
query heads). See :mod:`depict.utils.flops`.
"""
import argparse

from mmengine.config import Config, DictAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='FLOPs (multiply-accumulates) of a segmentor')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs='+', default=None,
                        help='input H W (or one size for a square); default: the '
                        "config's inference window (model.test_cfg.crop_size, else "
                        'model.data_preprocessor.size)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. model.decode_head.num_layers=2')
    return parser.parse_args()


def input_shape(args: argparse.Namespace, cfg: Config) -> tuple[int, int]:
    if args.shape is None:
        # The slide window the config infers with, else the size it pads to.
        size = (cfg.model.get('test_cfg') or {}).get('crop_size') or \
            (cfg.model.get('data_preprocessor') or {}).get('size')
        if size is None:
            raise ValueError(f'{args.config} sets neither model.test_cfg.crop_size nor '
                             f'model.data_preprocessor.size: pass --shape H W')
        return tuple(size)
    if len(args.shape) == 1:
        return args.shape[0], args.shape[0]
    if len(args.shape) == 2:
        return tuple(args.shape)
    raise ValueError(f'--shape takes H W or one size, got {args.shape}')


def main() -> None:
    args = parse_args()
    # The config's custom_imports registers depict (and its compat layer).
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    shape = input_shape(args, cfg)

    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from depict.utils.flops import count_segmentor_flops
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    # Random weights are enough to count FLOPs (building never loads a checkpoint).
    cfg.model.pretrained = None
    model = MODELS.build(cfg.model)
    result = count_segmentor_flops(model, shape)
    print(f'config: {args.config}')
    print(result.table())


if __name__ == '__main__':
    main()
