"""Whole models against the same models built from stock mmseg modules, one run.

    python tools/analysis_tools/bench_models.py [--configs depict-sa atm CONFIG.py ...] \\
        [--width 768] [--shape 512 512] [--batch 2] [--slide-shape 512 2048] \\
        [--modes train slide] [--runs 5] [--warmup 1] [--device cpu] [--sequential] \\
        [--profile 15] [--cfg-options model.backbone.num_layers=2 ...] [--out results.json]

Each config's model is built twice, to measure what the fused attention gains
on a whole training step, not only in the attention:

* ``stock``: the backbone as plain mmseg has it: mmseg's ``VisionTransformer``
  (attention through mmcv's ``MultiheadAttention``, i.e.
  ``torch.nn.MultiheadAttention`` with ``need_weights=True``), or our
  ``ShrunkVisionTransformer`` / ``TwoPathwayVisionTransformer`` with
  ``fused_attn=False`` (their stock path);
* ``fused``: the candidate: ``FusedVisionTransformer`` (same parameters and
  state-dict keys as mmseg's) or the other two with ``fused_attn=True``.

The fused model loads the stock model's state dict (strict), so both compute the
same function; pretrained weights and ``init_cfg`` are disabled (random
weights, nothing downloaded). Both get the *same* inputs: a seeded random image
batch standing for the data preprocessor's output, and scene-like labels
(:func:`depict.utils.benchmark.make_samples`).

Measured per variant (medians of ``--runs`` after ``--warmup``; spread: the
interquartile range, min and max):

* ``train``: one full training step from the data preprocessor's output:
  ``model.loss`` -> ``parse_losses`` -> the config's own optimizer wrapper
  (``update_params``: backward, gradient clipping where configured, optimizer
  step, zero_grad);
* ``slide``: the sliding-window inference of one ``--slide-shape`` image with the
  config's ``test_cfg`` (``model.predict`` in eval mode without autograd, up to
  the full-size logits);
* ``peak memory`` of one call of each, above what was allocated before it: the
  CUDA caching allocator's ``max_memory_allocated`` on GPU; on CPU torch's
  profiler replaying every tensor allocation and free
  (:func:`depict.utils.benchmark.peak_memory`). The CPU figure is the same
  quantity as the CUDA one (live tensor bytes, not the allocator's cache), so
  both variants can be measured in one process, in the same run as the
  timing; a process' RSS high-water mark would instead include the weights,
  the libraries and glibc's never-returned heap, and never goes down, so it
  could not separate two variants in one process. The process' RSS
  high-water mark is still reported in ``meta`` as a bound.

Before timing, one seeded training step of each variant (same seed, so
drop-path and dropout draw the same masks; with ``--modes train``) checks that
the comparison is fair: the losses, the global gradient norm and the
patch-embedding gradient of the two variants must agree to float rounding
(reported as ``equivalence``; the slide inference's logits likewise). Timing
interleaves the variants (stock, fused, fused, stock, ...) so that load from
other processes falls on both alike; ``--clock cpu`` times each call by the
process' CPU time instead of the wall clock (CPU device, one thread): the work
done, which other processes on a shared machine do not inflate.
``--sequential`` measures one variant at a time and keeps only one model in
memory (for ViT-L on a small machine). ``--profile N`` adds, per variant, the
top-N operators of one training step by self time and by memory (torch's
profiler), the breakdown ``docs/performance.md`` shows where a target is missed.

Every figure is also given as the ratio fused / stock. The table goes to stdout,
everything to ``--out`` as JSON.
"""
import argparse
import copy
import gc
import json
import os
import os.path as osp
import platform
import resource
import time

import torch

from depict.utils.benchmark import DECODER_CONFIGS as DECODERS
from depict.utils.benchmark import decoder_config, make_samples

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

VARIANTS = ('stock', 'fused')
STOCK_VIT, FUSED_VIT = 'VisionTransformer', 'FusedVisionTransformer'
#: Backbones with a fused-attention switch (``fused_attn``).
SWITCHED = ('ShrunkVisionTransformer', 'TwoPathwayVisionTransformer')


def parse_args(argv=None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Whole models (training step, slide inference) '
                                     'against the same models with the stock mmseg backbone')
    parser.add_argument('--configs', nargs='+', default=list(DECODERS),
                        help=f'config files, or decoder names ({", ".join(DECODERS)}) resolved '
                        'to their paper config at --width')
    parser.add_argument('--width', type=int, default=768, choices=(768, 1024),
                        help='backbone width for decoder names (768: ViT-B/16, 1024: ViT-L/16)')
    parser.add_argument('--shape', type=int, nargs=2, default=(512, 512), metavar=('H', 'W'),
                        help='training crop')
    parser.add_argument('--batch', type=int, default=2, help='training batch')
    parser.add_argument('--slide-shape', type=int, nargs=2, default=(512, 2048),
                        metavar=('H', 'W'), help='image of the slide inference (batch 1)')
    parser.add_argument('--modes', nargs='+', default=['train', 'slide'],
                        choices=['train', 'slide'])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory runs')
    parser.add_argument('--clock', choices=['wall', 'cpu'], default='wall',
                        help='cpu: process CPU time per call (CPU device, 1 thread): the work '
                        'done, robust to other processes sharing the cores')
    parser.add_argument('--sequential', action='store_true',
                        help='one variant at a time (halves the memory; no interleaving)')
    parser.add_argument('--profile', type=int, default=0, metavar='N',
                        help='top-N operators of one training step per variant')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides applied to every config (e.g. tiny sizes)')
    parser.add_argument('--out', help='write all results as JSON here')
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.batch < 1:
        parser.error('--runs and --batch must be >= 1 and --warmup >= 0')
    if args.clock == 'cpu' and (args.device != 'cpu' or torch.get_num_threads() != 1):
        parser.error('--clock cpu measures single-threaded CPU runs: use --device cpu and '
                     'OMP_NUM_THREADS=1 (with more threads CPU time counts spin-waiting too)')
    return args


def resolve_config(entry: str, width: int) -> tuple[str, dict]:
    """(config path, model overrides) of a config file or a decoder name."""
    if entry in DECODERS:
        return decoder_config(entry, width)
    path = entry if osp.isabs(entry) else osp.join(REPO, entry)
    if not osp.isfile(path):
        path = entry if osp.isfile(entry) else None
    if path is None:
        raise SystemExit(f'--configs: {entry!r} is neither a config file nor one of '
                         f'{", ".join(DECODERS)}')
    return path, {}


def load_config(entry: str, args):
    """The config with random weights at the benchmark's sizes."""
    from mmengine.config import Config
    path, overrides = resolve_config(entry, args.width)
    cfg = Config.fromfile(osp.join(REPO, path))  # custom_imports registers depict
    if overrides:
        cfg.merge_from_dict({'model': copy.deepcopy(overrides)})
    cfg.merge_from_dict(copy.deepcopy(args.cfg_options))
    # Random weights: no pretrained file, no init_cfg (nothing is downloaded or read).
    cfg.model.pretrained = None
    cfg.model.backbone.pop('init_cfg', None)
    cfg.model.backbone.img_size = tuple(args.shape)
    cfg.model.data_preprocessor.size = tuple(args.shape)
    return path, cfg


def variant_model_cfg(model_cfg, variant: str):
    """The model config with the ``stock`` or ``fused`` backbone."""
    if variant not in VARIANTS:
        raise ValueError(f'variant must be one of {VARIANTS}, got {variant!r}')
    cfg = copy.deepcopy(model_cfg)
    backbone = cfg.backbone
    fused = variant == 'fused'
    if backbone.type in (STOCK_VIT, FUSED_VIT):
        backbone.type = FUSED_VIT if fused else STOCK_VIT
        if fused:
            backbone.fused_attn = True
        else:
            backbone.pop('fused_attn', None)  # mmseg's class has no such argument
    elif backbone.type in SWITCHED:
        backbone.fused_attn = fused
    else:
        raise SystemExit(f'backbone {backbone.type!r} has no stock/fused variants; benchmark '
                         f'configs with {STOCK_VIT}, {FUSED_VIT} or {", ".join(SWITCHED)}')
    return cfg


def build_model(model_cfg, variant: str, device: torch.device, state_dict=None):
    from mmseg.registry import MODELS
    try:
        model = MODELS.build(variant_model_cfg(model_cfg, variant))
    except (KeyError, TypeError) as error:
        hint = (f'; the fused variant needs {FUSED_VIT} and the fused_attn switch of '
                'depict.models.backbones' if variant == 'fused' and 'attn' in str(error)
                or FUSED_VIT in str(error) else '; check --cfg-options against the config')
        raise SystemExit(f'building the {variant} model failed ({error}){hint}') from error
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    return model.to(device)


def make_inputs(batch: int, shape, device: torch.device, seed: int) -> torch.Tensor:
    """A normalised image batch (the data preprocessor's output), seeded."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, *shape, generator=generator).to(device)


def slide_samples(shape, device: torch.device):
    from mmseg.structures import SegDataSample
    meta = dict(img_shape=tuple(shape), ori_shape=tuple(shape), pad_shape=tuple(shape))
    return [SegDataSample(metainfo=meta)]


class Runner:
    """One variant of one config: its model, optimizer and the measured calls."""

    def __init__(self, variant: str, cfg, state_dict, args, device, data) -> None:
        from mmengine.optim import build_optim_wrapper
        self.variant, self.device, self.data = variant, device, data
        self.model = build_model(cfg.model, variant, device, state_dict)
        self.optim_wrapper = build_optim_wrapper(self.model, copy.deepcopy(cfg.optim_wrapper))

    def train_step(self) -> dict:
        self.model.train()
        losses = self.model.loss(self.data['inputs'], self.data['samples'])
        loss, log_vars = self.model.parse_losses(losses)
        self.optim_wrapper.update_params(loss)
        return log_vars

    def slide(self) -> torch.Tensor:
        self.model.eval()
        with torch.no_grad():
            results = self.model.predict(self.data['slide_inputs'],
                                         copy.deepcopy(self.data['slide_samples']))
        return results[0].seg_logits.data

    def check_step(self, seed: int) -> dict:
        """A seeded training step, keeping what the fairness check compares."""
        torch.manual_seed(seed)
        self.model.train()
        losses = self.model.loss(self.data['inputs'], self.data['samples'])
        loss, log_vars = self.model.parse_losses(losses)
        self.optim_wrapper.backward(loss)
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        grad_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g)
                                                          for g in grads])).item()
        patch_grad = self.model.backbone.patch_embed.projection.weight.grad.detach().cpu().clone()
        self.optim_wrapper.step()
        self.optim_wrapper.zero_grad()
        return dict(losses={k: float(v.detach()) for k, v in log_vars.items() if 'loss' in k},
                    grad_norm=grad_norm, patch_embed_grad=patch_grad)


def compare_checks(stock: dict, fused: dict) -> dict:
    """Largest differences between the two variants' check steps."""
    loss_diff = max(abs(stock['losses'][k] - fused['losses'][k]) for k in stock['losses'])
    scale = max(abs(v) for v in stock['losses'].values())
    grad_diff = (stock['patch_embed_grad'] - fused['patch_embed_grad']).abs().max().item()
    grad_scale = stock['patch_embed_grad'].abs().max().item()
    return dict(
        losses=dict(stock=stock['losses'], fused=fused['losses']),
        loss_max_abs_diff=loss_diff, loss_max_rel_diff=loss_diff / max(scale, 1e-12),
        grad_norm=dict(stock=stock['grad_norm'], fused=fused['grad_norm']),
        grad_norm_rel_diff=abs(stock['grad_norm'] - fused['grad_norm'])
        / max(stock['grad_norm'], 1e-12),
        patch_embed_grad_max_rel_diff=grad_diff / max(grad_scale, 1e-12))


def profile_step(fn, top: int) -> dict:
    """The top operators of one call by self time and by self memory (tables)."""
    os.environ.setdefault('KINETO_LOG_LEVEL', '5')
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities, profile_memory=True) as prof:
        fn()
    averages = prof.key_averages()
    time_key = 'self_cuda_time_total' if torch.cuda.is_available() else 'self_cpu_time_total'
    memory_key = ('self_cuda_memory_usage' if torch.cuda.is_available()
                  else 'self_cpu_memory_usage')
    return dict(by_time=averages.table(sort_by=time_key, row_limit=top),
                by_memory=averages.table(sort_by=memory_key, row_limit=top))


def time_variants(runners: dict, fn_name: str, args, device) -> dict:
    """Seconds per call of each variant, the variants alternating call by call
    (ABBA order) so that background load falls on both alike."""
    from depict.utils.benchmark import time_fn
    times = {name: [] for name in runners}
    names = list(runners)
    for index in range(args.warmup + args.runs):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            fn = getattr(runners[name], fn_name)
            if args.clock == 'cpu':
                start = time.process_time()
                fn()
                seconds = [time.process_time() - start]
            else:
                seconds = time_fn(fn, repeat=1, warmup=0, device=device)
            if index >= args.warmup:
                times[name] += seconds
    return times


def measure(runners: dict, args, device) -> dict:
    """Timing and memory of every mode for the runners given (one or both variants)."""
    from depict.utils.benchmark import peak_memory, summarize
    out = {name: {} for name in runners}
    for mode, fn_name in (('train', 'train_step'), ('slide', 'slide')):
        if mode not in args.modes:
            continue
        times = time_variants(runners, fn_name, args, device)
        for name, runner in runners.items():
            out[name][mode] = summarize(times[name])
            if not args.no_memory:
                gc.collect()
                peak, method = peak_memory(getattr(runner, fn_name), device)
                out[name][mode].update(peak_memory_bytes=peak, memory_method=method)
    if args.profile and 'train' in args.modes:
        for name, runner in runners.items():
            out[name]['profile'] = profile_step(runner.train_step, args.profile)
    return out


def bench_config(entry: str, args, device: torch.device) -> dict:
    path, cfg = load_config(entry, args)
    num_classes = cfg.model.decode_head.num_classes
    samples, _ = make_samples(args.batch, tuple(args.shape), num_classes, device)
    data = dict(inputs=make_inputs(args.batch, args.shape, device, seed=0), samples=samples,
                slide_inputs=make_inputs(1, args.slide_shape, device, seed=1),
                slide_samples=slide_samples(args.slide_shape, device))
    torch.manual_seed(0)
    # The stock model draws the weights; the fused one loads them (same keys).
    stock = Runner('stock', cfg, None, args, device, data)
    state_dict = {k: v.detach().cpu().clone() for k, v in stock.model.state_dict().items()}
    params = sum(p.numel() for p in stock.model.parameters())
    checks, slide_logits, measured = {}, {}, {}

    def first_calls(runner):
        if 'train' in args.modes:
            checks[runner.variant] = runner.check_step(seed=1234)
        if 'slide' in args.modes:
            slide_logits[runner.variant] = runner.slide().cpu()

    if args.sequential:
        first_calls(stock)
        measured.update(measure({'stock': stock}, args, device))
        del stock
        gc.collect()
        fused = Runner('fused', cfg, state_dict, args, device, data)
        first_calls(fused)
        measured.update(measure({'fused': fused}, args, device))
        runners = {'fused': fused}
    else:
        fused = Runner('fused', cfg, state_dict, args, device, data)
        del state_dict  # both models hold the weights now
        runners = {'stock': stock, 'fused': fused}
        for runner in runners.values():
            first_calls(runner)
        measured = measure(runners, args, device)
    backbones = {'fused': type(fused.model.backbone).__name__}
    backbones['stock'] = variant_model_cfg(cfg.model, 'stock').backbone.type
    del runners, fused
    gc.collect()

    equivalence = compare_checks(checks['stock'], checks['fused']) if checks else {}
    if slide_logits:
        diff = (slide_logits['stock'] - slide_logits['fused']).abs().max().item()
        equivalence['slide_logits_max_rel_diff'] = diff / max(
            slide_logits['stock'].abs().max().item(), 1e-12)
    result = dict(config=path if entry not in DECODERS else entry, config_file=path,
                  backbone=backbones, params=params,
                  slide_test_cfg=dict(cfg.model.test_cfg), equivalence=equivalence,
                  variants=measured)
    result['ratios'] = ratios(measured)
    return result


def ratios(measured: dict) -> dict:
    """fused / stock of every median time and peak memory."""
    out = {}
    for mode in ('train', 'slide'):
        stock, fused = measured['stock'].get(mode), measured['fused'].get(mode)
        if not stock or not fused:
            continue
        out[mode] = dict(time=fused['median_ms'] / stock['median_ms'])
        if stock.get('peak_memory_bytes') and fused.get('peak_memory_bytes'):
            out[mode]['peak_memory'] = fused['peak_memory_bytes'] / stock['peak_memory_bytes']
    return out


def print_table(results: list[dict], meta: dict) -> None:
    print(f"{meta['device']} ({meta['threads']} threads, {meta['cpu_count']} CPUs), training: "
          f"batch {meta['batch']} at {meta['shape'][0]}x{meta['shape'][1]}; slide: one "
          f"{meta['slide_shape'][0]}x{meta['slide_shape'][1]} image; medians of {meta['runs']} "
          f"runs after {meta['warmup']} (IQR); (x) = fused / stock")
    print(f"{'config':<44}{'variant':>8}{'train ms':>20}{'train MiB':>16}"
          f"{'slide ms':>20}{'slide MiB':>16}")
    for r in results:
        for variant in VARIANTS:
            cells = []
            for mode in ('train', 'slide'):
                stats = r['variants'][variant].get(mode)
                ratio = r['ratios'].get(mode, {}) if variant == 'fused' else {}
                if not stats:
                    cells += ['-', '-']
                    continue
                text = f"{stats['median_ms']:.0f} ±{stats['iqr_ms']:.0f}"
                if 'time' in ratio:
                    text += f" ({ratio['time']:.2f})"
                cells.append(text)
                peak = stats.get('peak_memory_bytes')
                text = f'{peak / 2**20:.0f}' if peak else '-'
                if 'peak_memory' in ratio:
                    text += f" ({ratio['peak_memory']:.2f})"
                cells.append(text)
            print(f"{(r['config'] if variant == 'stock' else ''):<44}{variant:>8}"
                  f"{cells[0]:>20}{cells[1]:>16}{cells[2]:>20}{cells[3]:>16}")
        eq = r['equivalence']
        checks = []
        if 'loss_max_rel_diff' in eq:
            checks += [f"loss rel diff {eq['loss_max_rel_diff']:.1e}",
                       f"grad {eq['patch_embed_grad_max_rel_diff']:.1e}"]
        if 'slide_logits_max_rel_diff' in eq:
            checks.append(f"slide logits rel diff {eq['slide_logits_max_rel_diff']:.1e}")
        print(f"{'':<44}{'check':>8}  " + ', '.join(checks))
        for variant in VARIANTS:
            profile = r['variants'][variant].get('profile')
            if profile:
                print(f'\n{variant}: top operators of one training step by self time')
                print(profile['by_time'])
                print(f'{variant}: by self memory')
                print(profile['by_memory'])


def main(argv=None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda requested but CUDA is not available')
    # Loading the first config imports depict through its custom_imports.
    load_config(args.configs[0], args)
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    # The optimizer constructor logs one line per parameter group at INFO.
    MMLogger.get_instance('bench_models', log_level='WARNING')
    results = []
    for entry in args.configs:
        results.append(bench_config(entry, args, device))
        print(f"done: {entry} {json.dumps(results[-1]['ratios'])}", flush=True)
    meta = dict(device=str(device), threads=torch.get_num_threads(), shape=list(args.shape),
                batch=args.batch, slide_shape=list(args.slide_shape), modes=args.modes,
                runs=args.runs, warmup=args.warmup, sequential=args.sequential, clock=args.clock,
                interleaved=not args.sequential, cfg_options=dict(args.cfg_options),
                torch=torch.__version__, cpu_count=os.cpu_count(),
                machine=f'{platform.machine()} {platform.processor() or ""}'.strip(),
                gpu=torch.cuda.get_device_name(device) if device.type == 'cuda' else None,
                # ru_maxrss is in KiB on Linux: a bound on the whole process.
                process_max_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print_table(results, meta)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(meta=meta, results=results), f, indent=1)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
