"""Every decode head of the project side by side, in one process and one run.

    python tools/analysis_tools/bench_decoders.py [--width 768] [--shape 512 512] \\
        [--classes 150] [--batch 2] [--repeat 10] [--warmup 3] [--device cpu] \\
        [--decoders segmenter depict-sa ...] [--out results.json]

Each decoder is built from its paper config at the backbone width (768: the
ViT-B/16 configs, 1024: the ViT-L/16 configs; ``--classes`` overrides the class
count) and fed the *same* random backbone features: one tensor per backbone
layer, drawn from a generator seeded by the layer index and shape, so two heads
that read layer 12 of a 12-layer ViT read the identical tensor. The shapes are
those the decoder's backbone produces for ``--shape`` (its backbone runs once on
a blank image to find them; the Shrunk ViT, for example, emits half-resolution
late features).

Measured per decoder (medians over ``--repeat`` runs after ``--warmup``, with the
interquartile range as spread; CUDA events on GPU):

* ``params``: the decode head's parameters;
* ``MACs``: multiply-accumulates of the inference path (``head.predict``: the
  forward and the prediction post-processing, up to logits at the input size),
  mmengine's fvcore-style counter with depict's SDPA handle;
* ``forward``: ``head.predict`` in eval mode without autograd;
* ``fwd+bwd``: the decoder in training mode: ``head.forward`` and the backward
  pass of fixed random gradients of all its outputs (for ATM: every stage's
  class logits and masks), with gradients flowing into the features as they
  would into the backbone. This is the decoder's own training cost;
* ``train step``: ``head.loss`` on scene-like random labels (8x8 regions of 12
  classes per image; see :func:`depict.utils.benchmark.make_samples`) and
  ``backward``: the above plus mmseg's upsampling of the logits to the label
  size, the head's losses (CE; ATM's per-stage CE / focal / dice; repsep's
  auxiliary losses) and accuracy.
  Skipped with ``--no-train-step``;
* ``peak memory``: tensor memory at the peak of one fwd+bwd above what was
  allocated before it (CUDA allocator; CPU: torch's profiler, see
  :mod:`depict.utils.benchmark`);
* ``rate``: MACs / forward time, as a fraction of the rate of a plain matrix
  product of comparable size timed in the same run: (B·h·w, d) @ (d, 4d), the
  shape of a ViT MLP on these features.

Every figure is also given as a ratio to mmseg's Segmenter mask decoder. The
table goes to stdout, everything to ``--out`` as JSON.
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform

import torch

from depict.utils.benchmark import DECODER_CONFIGS, decoder_config, make_samples, matmul_rate

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: Decoder name -> config per backbone width (shared with bench_models.py).
DECODERS = DECODER_CONFIGS
REFERENCE = 'segmenter'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark every decode head on identical '
                                     'backbone features')
    parser.add_argument('--width', type=int, default=768, choices=sorted({
        w for table in DECODERS.values() for w in table}), help='backbone width')
    parser.add_argument('--shape', type=int, nargs=2, default=(512, 512), metavar=('H', 'W'))
    parser.add_argument('--classes', type=int, default=150)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--decoders', nargs='+', default=list(DECODERS),
                        choices=list(DECODERS))
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory run')
    parser.add_argument('--no-train-step', action='store_true',
                        help='skip the training-step timing (head.loss + backward)')
    parser.add_argument('--out', help='write all results as JSON here')
    return parser.parse_args()


def load_config(name: str, width: int, classes: int):
    """The decoder's config at this width, with the class count set."""
    from mmengine.config import Config
    path, overrides = decoder_config(name, width)
    cfg = Config.fromfile(osp.join(REPO, path))  # custom_imports registers depict
    cfg.model.pretrained = None
    cfg.model.backbone.pop('init_cfg', None)
    if overrides:
        cfg.merge_from_dict({'model': copy.deepcopy(overrides)})
    cfg.model.decode_head.num_classes = classes
    return path, cfg


class Features:
    """Identical random backbone features: one tensor per (layer, shape)."""

    def __init__(self, batch: int, device: torch.device) -> None:
        self.batch, self.device, self.cache = batch, device, {}

    def get(self, layer: int, shape: tuple[int, ...]) -> torch.Tensor:
        key = (layer, shape)
        if key not in self.cache:
            generator = torch.Generator().manual_seed(hash(key) % 2**31)
            self.cache[key] = torch.randn(self.batch, *shape, generator=generator).to(self.device)
        return self.cache[key]


def backbone_layers(backbone) -> list[int]:
    """Absolute block index of each backbone output (-1 = the last block)."""
    indices = backbone.out_indices
    indices = [indices] if isinstance(indices, int) else list(indices)
    return [len(backbone.layers) - 1 if i == -1 else i for i in indices]


def read_positions(head, num_inputs: int) -> list[int]:
    """Which of the backbone's ``num_inputs`` outputs the head reads (its ``in_index``)."""
    index = head.in_index
    index = [index] if isinstance(index, int) else list(index)
    return [i % num_inputs for i in index]


def build_decoder(cfg, shape: tuple[int, int], features: Features, device: torch.device):
    """The decode head on ``device`` and its inputs (features of ``shape``)."""
    from mmseg.registry import MODELS
    model = MODELS.build(cfg.model)
    model.eval()  # mmseg's VisionTransformer.train() returns None: never chain
    with torch.no_grad():
        outputs = model.backbone(torch.zeros(1, 3, *shape))
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    feats = [features.get(layer, tuple(out.shape[1:]))
             for layer, out in zip(backbone_layers(model.backbone), outputs)]
    head = model.decode_head.to(device)
    return head, feats


class _Predict(torch.nn.Module):
    """``feats -> head.predict(feats)``: the traced inference path."""

    def __init__(self, head, metas, test_cfg) -> None:
        super().__init__()
        self.head, self.metas, self.test_cfg = head, metas, test_cfg

    def forward(self, *feats):
        return self.head.predict(list(feats), self.metas, self.test_cfg)


def bench_one(name: str, args, features: Features, device: torch.device) -> dict:
    from depict.utils.benchmark import peak_memory, summarize, time_fn
    from depict.utils.flops import flop_analyzer
    path, cfg = load_config(name, args.width, args.classes)
    shape = tuple(args.shape)
    head, feats = build_decoder(cfg, shape, features, device)
    samples, metas = make_samples(args.batch, shape, args.classes, device)
    test_cfg = cfg.model.get('test_cfg') or {}
    train_cfg = cfg.model.get('train_cfg') or {}

    head.eval()
    with torch.no_grad():
        macs = flop_analyzer(_Predict(head, metas, test_cfg), tuple(feats)).total()

    def forward():
        with torch.no_grad():
            head.predict(feats, metas, test_cfg)

    train_feats = [f.detach().clone().requires_grad_() for f in feats]
    head.train()
    # Fixed upstream gradients, one per output tensor (drawn once).
    out_grads = [torch.randn_like(t) for t in output_tensors(head(train_feats))]

    def forward_backward():
        outputs = output_tensors(head(train_feats))
        torch.autograd.backward(outputs, out_grads)
        reset_grads(head, train_feats)

    def train_step():
        losses = head.loss(train_feats, samples, train_cfg)
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        reset_grads(head, train_feats)

    head.eval()
    forward_times = time_fn(forward, repeat=args.repeat, warmup=args.warmup, device=device)
    head.train()
    backward_times = time_fn(forward_backward, repeat=args.repeat, warmup=args.warmup,
                             device=device)
    train_stats = None
    if not args.no_train_step:
        train_stats = summarize(time_fn(train_step, repeat=args.repeat, warmup=args.warmup,
                                        device=device))
    peak = method = None
    if not args.no_memory:
        peak, method = peak_memory(forward_backward, device)
    forward_stats = summarize(forward_times)
    return dict(
        decoder=name, config=path, head=type(head).__name__,
        params=sum(p.numel() for p in head.parameters()), macs=macs,
        # The features the head reads (the backbone may emit more, for other heads).
        feature_shapes=[list(feats[i].shape) for i in read_positions(head, len(feats))],
        forward=forward_stats, forward_backward=summarize(backward_times),
        train_step=train_stats, peak_memory_bytes=peak, memory_method=method,
        achieved_macs_per_s=macs / (forward_stats['median_ms'] / 1e3))


def output_tensors(outputs) -> list[torch.Tensor]:
    """The tensors in a head's output (a tensor, or nested tuples/lists of them)
    that carry gradients."""
    if isinstance(outputs, torch.Tensor):
        return [outputs] if outputs.requires_grad else []
    if isinstance(outputs, (list, tuple)):
        return [t for item in outputs for t in output_tensors(item)]
    if isinstance(outputs, dict):
        return [t for item in outputs.values() for t in output_tensors(item)]
    return []


def reset_grads(head, feats) -> None:
    head.zero_grad(set_to_none=True)
    for feat in feats:
        feat.grad = None


def add_ratios(results: list[dict], matmul: float) -> None:
    reference = next((r for r in results if r['decoder'] == REFERENCE), None)
    for r in results:
        r['rate_vs_matmul'] = r['achieved_macs_per_s'] / matmul
        if reference is None:
            continue
        r['vs_segmenter'] = dict(
            params=r['params'] / reference['params'], macs=r['macs'] / reference['macs'],
            forward=r['forward']['median_ms'] / reference['forward']['median_ms'],
            forward_backward=(r['forward_backward']['median_ms']
                              / reference['forward_backward']['median_ms']),
            train_step=(r['train_step']['median_ms'] / reference['train_step']['median_ms']
                        if r['train_step'] and reference['train_step'] else None),
            peak_memory=(r['peak_memory_bytes'] / reference['peak_memory_bytes']
                         if r['peak_memory_bytes'] and reference['peak_memory_bytes'] else None))


def print_table(results: list[dict], meta: dict) -> None:
    print(f"{meta['device']} ({meta['threads']} threads), width {meta['width']}, input "
          f"{meta['shape'][0]}x{meta['shape'][1]}, {meta['classes']} classes, batch "
          f"{meta['batch']}; matmul {meta['matmul_gmacs_per_s']:.1f} GMAC/s; medians of "
          f"{meta['repeat']} runs (IQR); (x) = ratio to Segmenter")
    header = (f"{'decoder':<11}{'params M':>14}{'GMACs':>14}{'forward ms':>20}"
              f"{'fwd+bwd ms':>20}{'train step ms':>20}{'peak MB':>14}{'rate':>7}")
    print(header)
    for r in results:
        ratio = r.get('vs_segmenter', {})

        def cell(value, key, fmt, spread=None):
            text = format(value, fmt)
            if spread is not None:
                text += f' ±{spread:.0f}'
            return f'{text} ({ratio[key]:.2f})' if ratio.get(key) is not None else text

        def timing(key):
            stats = r[key]
            return cell(stats['median_ms'], key, '.0f', stats['iqr_ms']) if stats else '-'

        peak = r['peak_memory_bytes']
        print(f"{r['decoder']:<11}"
              f"{cell(r['params'] / 1e6, 'params', '.2f'):>14}"
              f"{cell(r['macs'] / 1e9, 'macs', '.1f'):>14}"
              f"{timing('forward'):>20}{timing('forward_backward'):>20}{timing('train_step'):>20}"
              f"{(cell(peak / 2**20, 'peak_memory', '.0f') if peak else '-'):>14}"
              f"{100 * r['rate_vs_matmul']:>6.0f}%")


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda requested but CUDA is not available')
    # Loading the first config imports depict through its custom_imports.
    load_config(args.decoders[0], args.width, args.classes)
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    torch.manual_seed(0)
    features = Features(args.batch, device)
    results = [bench_one(name, args, features, device) for name in args.decoders]
    # Tokens of the finest feature map the decoders read (any patch size).
    tokens = args.batch * max(shape[-2] * shape[-1] for _, shape in features.cache)
    matmul, matmul_stats = matmul_rate(tokens, args.width, 4 * args.width, device=device,
                                       repeat=args.repeat, warmup=args.warmup)
    add_ratios(results, matmul)
    meta = dict(device=str(device), threads=torch.get_num_threads(), width=args.width,
                shape=list(args.shape), classes=args.classes, batch=args.batch,
                repeat=args.repeat, warmup=args.warmup, torch=torch.__version__,
                machine=f'{platform.machine()} {platform.processor() or ""}'.strip(),
                cpu_count=os.cpu_count(), matmul_gmacs_per_s=matmul / 1e9,
                matmul_shape=[tokens, args.width, 4 * args.width], matmul_time=matmul_stats)
    print_table(results, meta)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(meta=meta, results=results), f, indent=1)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
