"""Memory of one training step on a TimmViT with the large-ViT savers on or off.

Builds a config's segmentor with its backbone swapped for a timm ViT of the
same shape (``TimmViT``, random weights: nothing is downloaded), runs
``--warmup`` training steps (the optimizer state then exists, as in every step
but the first), then measures one more step with the tool of
docs/performance.md (``depict.utils.benchmark.peak_memory``: on CPU the torch
profiler's tensor allocations, on CUDA ``max_memory_allocated``): the tensor
peak of the step above what was allocated before it. The resident part
(weights, optimizer state) is counted from the tensors and reported beside it.

Switches: ``--bf16`` (the config's optimizer wrapper becomes
``AutocastOptimWrapper(dtype='bfloat16')`` on CPU, mmengine's
``AmpOptimWrapper(dtype='bfloat16')`` on CUDA), ``--with-cp`` (``TimmViT``
activation checkpointing), ``--frozen-stages K`` (``TimmViT.frozen_stages``;
the optimizer is built by ``TrainableOptimWrapperConstructor``, so frozen
parameters hold no optimizer state). Run one process per setting (peaks are
per process; docs/backbones.md has the figures and commands)::

    OMP_NUM_THREADS=1 python tools/analysis_tools/bench_memory.py --bf16 --with-cp
"""
import argparse
import json
import os.path as osp
import resource
import sys
import time

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = 'configs/depict/depict-sa_vit-l16_8xb1-160k_ade20k-640x640.py'
MiB = 2**20


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='segmentation config (its decoder, crop and optimizer recipe)')
    parser.add_argument('--timm-name', default='vit_large_patch16_224',
                        help='timm architecture of the backbone (random weights)')
    parser.add_argument('--depth', type=int, default=None,
                        help='blocks of the ViT (default: the timm model\'s); fewer blocks '
                        'for an extrapolated figure (out_indices are scaled to the depth)')
    parser.add_argument('--shape', type=int, nargs=2, default=(640, 640))
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--bf16', action='store_true', help='bfloat16 autocast')
    parser.add_argument('--with-cp', action='store_true', help='activation checkpointing')
    parser.add_argument('--frozen-stages', type=int, default=-1)
    parser.add_argument('--warmup', type=int, default=1, help='steps before the measured one')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default=None, help='JSON file for the figures')
    return parser.parse_args(argv)


def build(args, device):
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, args.config))  # custom_imports registers depict
    old = cfg.model.backbone
    import timm
    if args.depth is None:
        with torch.device('meta'):  # only the depth is read: no weights allocated
            depth = len(timm.create_model(args.timm_name, pretrained=False).blocks)
    else:
        depth = args.depth
    num_layers = old.get('num_layers', depth)
    indices = old.get('out_indices', -1)
    indices = (indices, ) if isinstance(indices, int) else tuple(indices)
    # The same relative blocks at the chosen depth (block 23 of 24 -> block d-1 of d).
    out_indices = tuple(sorted({round((i % num_layers + 1) * depth / num_layers) - 1
                                for i in indices}))
    cfg.model.pretrained = None
    cfg.model.backbone = dict(
        type='TimmViT', model_name=args.timm_name, img_size=tuple(args.shape),
        out_indices=out_indices, final_norm=old.get('final_norm', True),
        drop_path_rate=old.get('drop_path_rate', 0.0), frozen_stages=args.frozen_stages,
        with_cp=args.with_cp, model_kwargs=dict(depth=depth) if args.depth else {})
    cfg.model.data_preprocessor.size = tuple(args.shape)
    model = MODELS.build(cfg.model).to(device)
    model.init_weights()
    wrapper = dict(cfg.optim_wrapper)
    wrapper.setdefault('constructor', 'TrainableOptimWrapperConstructor')
    if wrapper['constructor'] == 'DefaultOptimWrapperConstructor':
        wrapper['constructor'] = 'TrainableOptimWrapperConstructor'
    if args.bf16:
        wrapper['type'] = 'AmpOptimWrapper' if device.type == 'cuda' else 'AutocastOptimWrapper'
        wrapper['dtype'] = 'bfloat16'
    return model, build_optim_wrapper(model, wrapper), cfg, out_indices, depth


def samples(batch, shape, classes, device, regions=8, per_image=12):
    """Scene-like labels: ``regions`` x ``regions`` blocks of ``per_image`` classes
    (as bench_decoders.py / bench_models.py)."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    generator = torch.Generator().manual_seed(0)
    out = []
    for _ in range(batch):
        present = torch.randperm(classes, generator=generator)[:per_image]
        grid = present[torch.randint(0, len(present), (1, 1, regions, regions),
                                     generator=generator)]
        label = torch.nn.functional.interpolate(grid.float(), size=shape, mode='nearest')
        sample = SegDataSample(gt_sem_seg=PixelData(data=label[0].long().to(device)))
        sample.set_metainfo(dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        out.append(sample)
    return out


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if torch.is_tensor(t))


def main(argv=None) -> dict:
    args = parse_args(argv)
    from mmengine.registry import init_default_scope

    from depict.utils.benchmark import peak_memory
    init_default_scope('mmseg')
    device = torch.device(args.device)
    torch.manual_seed(0)
    model, optim_wrapper, cfg, out_indices, depth = build(args, device)
    shape = tuple(args.shape)
    inputs = torch.randn(args.batch, 3, *shape, generator=torch.Generator().manual_seed(0))
    inputs = inputs.to(device)
    data = samples(args.batch, shape, cfg.model.decode_head.num_classes, device)

    def step():
        model.train()
        with optim_wrapper.optim_context(model):
            losses = model.loss(inputs, data)
        loss, _ = model.parse_losses(losses)
        optim_wrapper.update_params(loss)
        return float(loss.detach())

    seconds = []
    for _ in range(args.warmup):
        start = time.process_time()
        step()
        seconds.append(time.process_time() - start)
    params = list(model.parameters())
    state = [v for s in optim_wrapper.optimizer.state.values() for v in s.values()]
    start = time.process_time()
    peak, method = peak_memory(step, device)
    seconds.append(time.process_time() - start)
    result = dict(
        config=args.config, timm_name=args.timm_name, depth=depth, out_indices=out_indices,
        shape=list(shape), batch=args.batch, bf16=args.bf16, with_cp=args.with_cp,
        frozen_stages=args.frozen_stages, device=str(device), method=method,
        optim_wrapper=type(optim_wrapper).__name__,
        optimizer=type(optim_wrapper.optimizer).__name__,
        params_mib=tensor_bytes(params) / MiB,
        trainable_params_mib=tensor_bytes(p for p in params if p.requires_grad) / MiB,
        optimizer_state_mib=tensor_bytes(state) / MiB,
        step_peak_mib=peak / MiB,
        process_cpu_s_per_step=seconds,
        ru_maxrss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        torch=torch.__version__, threads=torch.get_num_threads())
    result['resident_plus_peak_mib'] = (result['params_mib'] + result['optimizer_state_mib']
                                        + result['step_peak_mib'])
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, 'w') as file:
            json.dump(result, file, indent=1)
    return result


if __name__ == '__main__':
    sys.exit(main() and 0)
