"""Inference speed (FPS) and peak memory of a segmentor, for any decode head.

    python tools/analysis_tools/benchmark.py CONFIG [CHECKPOINT] \\
        [--shape H W] [--repeat N] [--warmup N] [--device cpu|cuda] [--out FILE]

One synthetic image of H x W (default: the config's test crop) goes through
``model.test_step`` N times: the data preprocessor (normalisation, padding),
the config's ``test_cfg`` inference (``slide`` or ``whole``) and the
post-processing (resize to the image size, argmax). FPS is images per second
at batch size 1 after ``--warmup`` untimed runs; the spread of the timed runs
is reported too. Without a checkpoint the weights are random (speed and
memory do not depend on them; no pretrained file is needed).

Peak memory is measured in one extra run, as the largest amount of tensor
memory allocated *above what was allocated when the run started* (weights and
the input are excluded; they are reported separately): the CUDA allocator's
peak on GPU, torch's profiler replaying every CPU tensor allocation and free on
CPU (:mod:`depict.utils.benchmark` explains the choice).
"""
import argparse
import json
import os
import os.path as osp
import statistics

import numpy as np
import torch
from mmengine.config import Config, DictAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Inference FPS and peak memory')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (default: random weights)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input image size (default: the test crop size of the config)')
    parser.add_argument('--repeat', type=int, default=50, help='timed runs (default 50)')
    parser.add_argument('--warmup', type=int, default=5, help='untimed runs first (default 5)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='cpu, cuda or cuda:N (default: cuda if available)')
    parser.add_argument('--out', help='write the results as JSON to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.test_cfg.mode=whole')
    return parser.parse_args()


def default_shape(cfg: Config) -> tuple[int, int]:
    """The test crop of the config: slide ``crop_size``, else the preprocessor size."""
    test_cfg = cfg.model.get('test_cfg') or {}
    size = test_cfg.get('crop_size') or (cfg.model.get('data_preprocessor') or {}).get('size')
    return tuple(size) if size else (512, 512)


def build_model(cfg: Config, checkpoint, device: str) -> torch.nn.Module:
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS

    cfg.model.pretrained = None  # never read data/pretrain here
    cfg.model.train_cfg = None
    model = MODELS.build(cfg.model)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    model = revert_sync_batchnorm(model).to(device)
    model.eval()  # mmseg's VisionTransformer.train() returns None: never chain
    return model


def make_batch(shape: tuple[int, int], seed: int = 0) -> dict:
    """A test batch as the dataloader yields it: uint8 image, metainfo only."""
    from mmseg.structures import SegDataSample
    height, width = shape
    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.integers(0, 256, (3, height, width), dtype=np.uint8))
    sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                         pad_shape=(height, width), scale_factor=(1.0, 1.0),
                                         flip=False, img_path=None))
    return dict(inputs=[image], data_samples=[sample])


def test_step(model, batch: dict):
    """One inference as the test loop runs it, without autograd."""
    def run():
        with torch.no_grad():
            model.test_step(batch)
    return run


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)  # custom_imports registers depict
    from depict.utils.benchmark import peak_memory, time_fn
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit('--device cuda requested but CUDA is not available')
    shape = tuple(args.shape) if args.shape else default_shape(cfg)
    model = build_model(cfg, args.checkpoint, args.device)
    batch = make_batch(shape)

    run = test_step(model, batch)
    times = time_fn(run, repeat=args.repeat, warmup=args.warmup, device=args.device)
    peak, method = peak_memory(run, args.device)
    weights = sum(t.numel() * t.element_size()
                  for t in list(model.parameters()) + list(model.buffers()))
    head = getattr(model, 'decode_head', None)
    result = dict(
        config=args.config, checkpoint=args.checkpoint, device=args.device,
        torch_threads=torch.get_num_threads(), shape=list(shape),
        test_mode=(cfg.model.get('test_cfg') or {}).get('mode', 'whole'),
        repeat=args.repeat, warmup=args.warmup,
        fps=1.0 / statistics.mean(times), latency_ms_mean=1e3 * statistics.mean(times),
        latency_ms_median=1e3 * statistics.median(times),
        latency_ms_std=1e3 * (statistics.stdev(times) if len(times) > 1 else 0.0),
        peak_memory_mb=peak / 2**20, memory_method=method, weights_mb=weights / 2**20,
        params_m=sum(p.numel() for p in model.parameters()) / 1e6,
        decode_head_params_m=(sum(p.numel() for p in head.parameters()) / 1e6
                              if isinstance(head, torch.nn.Module) else None))
    print(f'{osp.basename(args.config)} on {args.device} ({result["torch_threads"]} threads), '
          f'{shape[0]}x{shape[1]}, test_cfg mode {result["test_mode"]}:')
    print(f'  fps {result["fps"]:.2f} img/s  latency {result["latency_ms_mean"]:.1f} ms '
          f'(median {result["latency_ms_median"]:.1f}, std {result["latency_ms_std"]:.1f}; '
          f'{args.repeat} runs after {args.warmup} warm-up)')
    print(f'  peak memory {result["peak_memory_mb"]:.1f} MB above weights + input '
          f'({method}); weights {result["weights_mb"]:.1f} MB')
    print(f'  parameters {result["params_m"]:.3f} M'
          + (f', decode head {result["decode_head_params_m"]:.3f} M'
             if result['decode_head_params_m'] is not None else ''))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
