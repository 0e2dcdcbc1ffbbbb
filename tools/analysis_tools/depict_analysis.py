"""The DEPICT paper's analyses of a trained decoder, as figures and numbers.

Usage::

    python tools/analysis_tools/depict_analysis.py CONFIG CHECKPOINT [--out DIR] \
        [--eps 0.1 0.5 1.0] [--sigmas 0 0.01 0.02 0.05 0.1] [--noise-repeats 2] \
        [--max-images 50] [--compare CONFIG2 CKPT2] [--compare CONFIG3 CKPT3] \
        [--labels DEPICT-SA Segmenter] [--cfg-options KEY=VALUE ...]

Writes into ``--out`` (default ``work_dirs/depict_analysis``):

* ``orthogonality.png`` – Gram matrices ``P Pᵀ`` of every MSSA/MSCA projection
  (the K diagonal blocks are the per-head Grams ``P_k P_kᵀ``), one row per
  checkpoint, one colour scale. Each P_k should be close to an orthonormal
  basis of its subspace.
* ``class_gram.png`` – cosine Gram matrices of the learned class embeddings E
  and of the final class embeddings Ê (mean over validation windows), one row
  per checkpoint, class names on the axes. Ê should be close to an orthonormal
  basis (paper: the low-rank approximation of the refined patch embeddings).
* ``coding_rate.png`` – coding rate of the tokens entering the decoder and after
  each decoder layer, one panel per checkpoint (shared y axis), one curve per ε.

Every model appears in every figure (a decoder without the quantity says so in
its place); ``analysis.json``'s ``figure_layout`` records each figure's models
and shared ranges.
* ``noise_robustness.png`` – mIoU against the std σ of Gaussian noise added to
  every decode-head parameter, one curve per checkpoint (mean ± std over
  ``--noise-repeats`` draws).
* ``analysis.json`` – every number behind the figures.

Definitions (also in docs/depict.md):

* Orthogonality error of a set of n vectors stacked as the rows of B (n×d):
  ``‖B Bᵀ − I_n‖_F / ‖I_n‖_F = ‖B Bᵀ − I_n‖_F / √n`` (with the vectors as the
  columns of G = Bᵀ this is ``‖GᵀG − I‖_F`` normalised by ``‖I‖_F``).
  0 for an orthonormal set; for P_k (B = P_k, n = p) it is reported on the raw
  rows (``error``: orthonormality) and on ℓ2-normalised rows (``cosine_error``:
  orthogonality alone). Class embeddings are compared as the masks use them,
  ℓ2-normalised, so only the cosine error is reported.
* Coding rate of tokens Z ∈ R^{N×d} (one forward window):
  ``R(Z) = ½ logdet(I_d + d/(N ε²) ZᵀZ)`` (computed as ``½ logdet(I_N + d/(N ε²) Z Zᵀ)``
  when N < d, which is equal), averaged over windows. By default each token is
  ℓ2-normalised first (``--token-norm l2``) so that layers whose residual
  stream grows in norm stay comparable; ``--token-norm none`` uses the raw
  tokens. For DEPICT-SA and Segmenter only the patch tokens of the joint
  sequence are used; for DEPICT-CA's MSCA layers the class queries.
* Noise: every decode-head parameter θ gets θ + σ·N(0, 1) (absolute σ; the
  backbone is untouched); mIoU on the first ``--max-images`` validation images.

All collection uses forward hooks on the unmodified model.
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
from collections import defaultdict
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from torch import Tensor, nn


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='DEPICT analyses: orthogonality, coding '
                                     'rate, robustness to parameter noise')
    parser.add_argument('config', help='config of the (first) model')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('--out', default='work_dirs/depict_analysis', help='output folder')
    parser.add_argument('--compare', nargs=2, action='append', default=[],
                        metavar=('CONFIG', 'CHECKPOINT'),
                        help='another model for the same plots (repeatable), e.g. Segmenter')
    parser.add_argument('--labels', nargs='+', help='curve labels, one per model '
                        '(default: config file names)')
    parser.add_argument('--eps', nargs='+', type=float, default=[0.1, 0.5, 1.0],
                        help='ε values of the coding rate')
    parser.add_argument('--token-norm', choices=['l2', 'none'], default='l2',
                        help='ℓ2-normalise tokens before the coding rate (default) or not')
    parser.add_argument('--sigmas', nargs='+', type=float,
                        default=[0.0, 0.005, 0.01, 0.02, 0.05, 0.1],
                        help='std of the Gaussian noise added to decoder parameters')
    parser.add_argument('--noise-repeats', type=int, default=2,
                        help='noise draws per σ > 0 (mean and std are reported)')
    parser.add_argument('--max-images', type=int, default=None,
                        help='use only the first N validation images (CPU budgets)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the noise draws')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides applied to every config (e.g. the data root)')
    args = parser.parse_args()
    num_models = 1 + len(args.compare)
    if args.labels is not None and len(args.labels) != num_models:
        parser.error(f'--labels needs {num_models} labels (one per model), got '
                     f'{len(args.labels)}')
    if args.max_images is not None and args.max_images < 1:
        parser.error('--max-images must be >= 1')
    if any(e <= 0 for e in args.eps):
        parser.error('--eps values must be > 0')
    if any(s < 0 for s in args.sigmas):
        parser.error('--sigmas must be >= 0')
    return args


# ----------------------------------------------------------------------------- models


def load_model(config: str, checkpoint: str, cfg_options: Optional[dict]) -> tuple[Any, Config]:
    """Builds the config's segmentor (no pretrained download) and loads the checkpoint."""
    from mmengine.runner import load_checkpoint
    cfg = Config.fromfile(config)  # custom_imports registers depict
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS
    cfg.model.pretrained = None
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='silent')
    model.eval()  # mmseg's VisionTransformer.train() returns None: do not chain
    if not hasattr(model, 'decode_head'):
        raise TypeError(f'{config}: expected an EncoderDecoder with a decode_head, got '
                        f'{type(model).__name__}')
    return model, cfg


def build_val_loader(cfg: Config):
    from mmengine.runner import Runner
    loader_cfg = copy.deepcopy(cfg.get('test_dataloader') or cfg.val_dataloader)
    loader_cfg.update(num_workers=0, persistent_workers=False, batch_size=1)
    return Runner.build_dataloader(loader_cfg)


def num_classes(head: nn.Module) -> int:
    return head.num_classes


# ---------------------------------------------------------------- orthogonality (Grams)


def gram_error(rows: Tensor) -> float:
    """‖B Bᵀ − I‖_F / ‖I‖_F for the rows of B (n×d)."""
    gram = rows @ rows.T
    eye = torch.eye(rows.shape[0], dtype=rows.dtype)
    return (torch.linalg.matrix_norm(gram - eye) / math.sqrt(rows.shape[0])).item()


def projection_orthogonality(head: nn.Module) -> tuple[dict, dict]:
    """Per-operator and per-head Gram errors of P; returns (numbers, Gram matrices)."""
    from depict.models.layers import SubspaceAttention
    numbers, grams = {}, {}
    for name, module in head.named_modules():
        if not isinstance(module, SubspaceAttention):
            continue
        proj = module.proj.detach().double()  # (K·p, d)
        heads = module.head_projections().detach().double()  # (K, p, d)
        numbers[name] = dict(
            num_heads=module.num_heads, head_dims=module.head_dims, eta=module.eta.item(),
            error=gram_error(proj), cosine_error=gram_error(F.normalize(proj, dim=-1)),
            heads=[dict(error=gram_error(p_k), cosine_error=gram_error(F.normalize(p_k, dim=-1)))
                   for p_k in heads])
        grams[name] = (proj @ proj.T).float()
    return numbers, grams


def final_class_embedding_hook(head: nn.Module) -> tuple[nn.Module, Callable[[Any], Tensor]]:
    """Where the final class embeddings Ê appear, for DEPICT-SA/CA and Segmenter."""
    classes = num_classes(head)
    if hasattr(head, 'class_norm'):  # DEPICT-CA: Ê = LN(E^{L_c})
        return head.class_norm, lambda out: out
    if hasattr(head, 'classes_proj'):  # Segmenter: Ê = LN(·)[-C:] W_c
        return head.classes_proj, lambda out: out
    if hasattr(head, 'decoder_norm'):  # DEPICT-SA: LN([Ẑ; Ê])[-C:]
        return head.decoder_norm, lambda out: out[:, -classes:]
    raise TypeError(f'{type(head).__name__}: cannot locate its final class embeddings')


# ------------------------------------------------------------------------ coding rate


def coding_rate(tokens: Tensor, eps: float) -> float:
    """R(Z) = ½ logdet(I + d/(N ε²) ZᵀZ) for Z (N×d), via the smaller Gram."""
    tokens = tokens.double()
    n, d = tokens.shape
    scale = d / (n * eps**2)
    gram = tokens @ tokens.T if n < d else tokens.T @ tokens
    eye = torch.eye(gram.shape[0], dtype=gram.dtype)
    return 0.5 * torch.linalg.slogdet(eye + scale * gram)[1].item()


def token_taps(head: nn.Module) -> list[tuple[str, nn.Module, str, Callable[[Tensor], Tensor]]]:
    """(label, module, 'pre'|'post', selector) for the decoder input and every layer."""
    classes = num_classes(head)
    joint = not hasattr(head, 'cross_layers')  # SA / Segmenter: [patches; classes]
    patches = (lambda t: t[:, :-classes]) if joint else (lambda t: t)
    taps = []
    layers = list(getattr(head, 'layers', []))
    if layers:
        taps.append(('input', layers[0], 'pre', patches))
        taps += [(f'layer{i + 1}', layer, 'post', patches) for i, layer in enumerate(layers)]
    for i, layer in enumerate(getattr(head, 'cross_layers', [])):
        taps.append((f'cross{i + 1}', layer, 'post', lambda t: t))
    return taps


# -------------------------------------------------------------------- evaluation pass


def run_validation(model, loader, max_images: Optional[int], dataset_meta: dict) -> float:
    """mIoU (%) of the model on the first ``max_images`` validation images."""
    from mmengine.evaluator import Evaluator
    evaluator = Evaluator(dict(type='IoUMetric', iou_metrics=['mIoU']))
    evaluator.dataset_meta = dataset_meta
    seen = 0
    with torch.no_grad():
        for data in loader:
            outputs = model.test_step(data)
            evaluator.process(data_samples=outputs, data_batch=data)
            seen += len(outputs)
            if max_images is not None and seen >= max_images:
                break
    return float(evaluator.evaluate(seen)['mIoU'])


def collect_statistics(model, loader, max_images: Optional[int], eps_list: list[float],
                       token_norm: str, dataset_meta: dict) -> dict:
    """One clean validation pass with hooks: coding rates, Ê Grams and the mIoU."""
    head = model.decode_head
    rates: dict = defaultdict(lambda: defaultdict(list))
    class_grams: list[Tensor] = []
    handles = []

    def record(label: str, select: Callable[[Tensor], Tensor]) -> Callable[[Tensor], None]:
        def _record(tokens: Tensor) -> None:
            for z in select(tokens.detach().float()):  # one window at a time: (N, d)
                z = F.normalize(z, dim=-1) if token_norm == 'l2' else z
                for eps in eps_list:
                    rates[eps][label].append(coding_rate(z, eps))
        return _record

    for label, module, when, select in token_taps(head):
        fn = record(label, select)
        if when == 'pre':
            handles.append(module.register_forward_pre_hook(lambda m, args, fn=fn: fn(args[0])))
        else:
            handles.append(module.register_forward_hook(lambda m, args, out, fn=fn: fn(out)))
    try:
        module, select = final_class_embedding_hook(head)

        def _class_hook(m, args, out):
            emb = F.normalize(select(out.detach().float()), dim=-1)  # (B, C, d)
            class_grams.extend(emb @ emb.transpose(1, 2))
        handles.append(module.register_forward_hook(_class_hook))
    except TypeError:
        pass
    try:
        miou = run_validation(model, loader, max_images, dataset_meta)
    finally:
        for handle in handles:
            handle.remove()
    result = dict(miou=miou, coding_rate={
        str(eps): {label: sum(v) / len(v) for label, v in per_layer.items()}
        for eps, per_layer in rates.items()})
    if class_grams:
        mean_gram = torch.stack(class_grams).mean(0)
        eye = torch.eye(mean_gram.shape[0])
        per_window = [(torch.linalg.matrix_norm(g - eye) / math.sqrt(g.shape[0])).item()
                      for g in class_grams]
        result['final_class_embeddings'] = dict(
            cosine_error_mean_over_windows=sum(per_window) / len(per_window),
            cosine_error_of_mean_gram=(torch.linalg.matrix_norm(mean_gram - eye)
                                       / math.sqrt(mean_gram.shape[0])).item(),
            windows=len(class_grams))
        result['_final_class_gram'] = mean_gram
    return result


def noise_robustness(model, loader, max_images: Optional[int], sigmas: list[float],
                     repeats: int, seed: int, dataset_meta: dict,
                     clean_miou: float) -> list[dict]:
    """mIoU with θ + σ·N(0, 1) on every decode-head parameter; the head is restored after."""
    head = model.decode_head
    original = copy.deepcopy(head.state_dict())
    generator = torch.Generator().manual_seed(seed)
    curve = []
    try:
        for sigma in sigmas:
            if sigma == 0:
                values = [clean_miou]
            else:
                values = []
                for _ in range(repeats):
                    with torch.no_grad():
                        for param in head.parameters():
                            noise = torch.randn(param.shape, generator=generator)
                            param.add_(sigma * noise.to(param.dtype))
                    values.append(run_validation(model, loader, max_images, dataset_meta))
                    head.load_state_dict(original)
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean)**2 for v in values) / len(values))
            curve.append(dict(sigma=sigma, miou_mean=mean, miou_std=std, mious=values))
    finally:
        head.load_state_dict(original)
    return curve


# ------------------------------------------------------------------------------ plots


def plot_all(out_dir: str, results: list[dict], grams: list[dict],
             eps_list: list[float]) -> tuple[list, dict]:
    """Writes the figures; every model appears in every figure, on shared scales.

    Args:
        out_dir: Output folder.
        results: One result per model (``label``, numbers, ``_classes`` and the
            class Grams).
        grams: One ``{operator: |P Pᵀ|}`` dict per model (empty for decoders
            without MSSA/MSCA projections).
        eps_list: The ε values of the coding rate.

    Returns:
        The written paths and, per figure, its layout (models in row order,
        the shared colour or axis range, the class tick labels), which
        ``analysis.json`` records.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    written, layout = [], {}
    labels = [r['label'] for r in results]

    def save(fig, name, **info):
        path = osp.join(out_dir, name)
        fig.savefig(path, dpi=110, bbox_inches='tight')
        plt.close(fig)
        written.append(path)
        layout[name] = dict(models=labels, **info)

    def absent(ax, text):
        ax.axis('off')
        ax.text(0.5, 0.5, text, ha='center', va='center', fontsize=8, wrap=True)

    # Projections: one row per model, one shared colour range.
    if any(grams):
        cols = max(len(g) for g in grams)
        vmax = max(float(g.abs().max()) for model in grams for g in model.values())
        fig, axes = plt.subplots(len(results), cols, figsize=(4.2 * cols, 4.0 * len(results)),
                                 squeeze=False)
        for row, result, model_grams in zip(axes, results, grams):
            if not model_grams:
                absent(row[0], f'{result["label"]} ({result["decoder_type"]}):\nno MSSA/MSCA '
                       'projections')
            for ax in row[len(model_grams) or 1:]:
                ax.axis('off')
            for ax, (name, gram) in zip(row, model_grams.items()):
                info = result['projections'][name]
                image = ax.imshow(gram.abs().numpy(), cmap='viridis', vmin=0, vmax=vmax)
                for k in range(1, info['num_heads']):  # head (subspace) boundaries
                    edge = k * info['head_dims'] - 0.5
                    ax.axhline(edge, color='w', lw=0.6)
                    ax.axvline(edge, color='w', lw=0.6)
                ax.set_title(f'{result["label"]}: {name}\n|P Pᵀ|, K={info["num_heads"]}, '
                             f'p={info["head_dims"]}, err={info["error"]:.2f}', fontsize=8)
                fig.colorbar(image, ax=ax, fraction=0.046)
        fig.suptitle('Gram matrices of the projections (blocks = P_k P_kᵀ; one colour scale)')
        save(fig, 'orthogonality.png', clim=[0.0, vmax])

    # Class embeddings: one row per model, cosine range [-1, 1], class names on the axes.
    if any('_final_class_gram' in r or '_learned_class_gram' in r for r in results):
        fig, axes = plt.subplots(len(results), 2, figsize=(9.0, 4.4 * len(results)),
                                 squeeze=False)
        ticks = []
        for row, result in zip(axes, results):
            classes = [str(c) for c in result.get('_classes') or []]
            for ax, key, title in ((row[0], '_learned_class_gram', 'learned E'),
                                   (row[1], '_final_class_gram', 'final Ê (mean over windows)')):
                if key not in result:
                    absent(ax, f'{result["label"]}: no {title.split(" (")[0]}')
                    continue
                gram = result[key].numpy()
                image = ax.imshow(gram, cmap='RdBu_r', vmin=-1, vmax=1)
                if len(classes) == gram.shape[0]:
                    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=6)
                    ax.set_yticks(range(len(classes)), classes, fontsize=6)
                    ticks.append(classes)
                ax.set_title(f'{result["label"]}: cosine Gram of {title}', fontsize=9)
                fig.colorbar(image, ax=ax, fraction=0.046)
        save(fig, 'class_gram.png', clim=[-1.0, 1.0], class_ticks=ticks[0] if ticks else [])

    # Coding rate: one panel per model, one y axis.
    fig, axes = plt.subplots(1, len(results), figsize=(5.0 * len(results), 3.8),
                             squeeze=False, sharey=True)
    for ax, result in zip(axes[0], results):
        if not result['coding_rate']:
            absent(ax, f'{result["label"]}: no tokens collected')
            continue
        for eps in eps_list:
            per_layer = result['coding_rate'].get(str(eps), {})
            ax.plot(list(per_layer), list(per_layer.values()), marker='o', label=f'ε={eps}')
        ax.set_title(f'{result["label"]}: coding rate R(Z)', fontsize=9)
        ax.set_xlabel('decoder position')
        ax.tick_params(axis='x', labelrotation=30)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel('R(Z) (nats)')
    save(fig, 'coding_rate.png', ylim=[float(v) for v in axes[0][0].get_ylim()])

    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    for result in results:
        curve = result['noise']
        sigmas = [c['sigma'] for c in curve]
        ax.errorbar(sigmas, [c['miou_mean'] for c in curve], yerr=[c['miou_std'] for c in curve],
                    marker='o', capsize=3, label=result['label'])
    ax.set_xlabel('σ of Gaussian noise on decoder parameters')
    ax.set_ylabel('mIoU (%)')
    ax.set_title('Robustness to decoder parameter noise')
    ax.legend()
    ax.grid(alpha=0.3)
    save(fig, 'noise_robustness.png')
    return written, layout


# ------------------------------------------------------------------------------- main


def analyse(config: str, checkpoint: str, label: str, args: argparse.Namespace) -> tuple:
    model, cfg = load_model(config, checkpoint, args.cfg_options)
    loader = build_val_loader(cfg)
    meta = loader.dataset.metainfo
    head = model.decode_head
    result: dict = dict(label=label, config=config, checkpoint=checkpoint,
                        _classes=list(meta.get('classes') or []),
                        decoder_type=type(head).__name__,
                        decoder_parameters=sum(p.numel() for p in head.parameters()))
    numbers, grams = projection_orthogonality(head)
    result['projections'] = numbers
    if isinstance(getattr(head, 'cls_emb', None), torch.Tensor):
        emb = F.normalize(head.cls_emb.detach().float().reshape(-1, head.cls_emb.shape[-1]), dim=-1)
        result['learned_class_embeddings'] = dict(cosine_error=gram_error(emb.double()))
        result['_learned_class_gram'] = emb @ emb.T
    stats = collect_statistics(model, loader, args.max_images, args.eps, args.token_norm, meta)
    result.update(stats)
    result['noise'] = noise_robustness(model, loader, args.max_images, args.sigmas,
                                       args.noise_repeats, args.seed, meta, stats['miou'])
    return result, grams


def main() -> None:
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    from mmengine.logging import MMLogger
    # The current logger: keeps IoUMetric's per-class tables (one per noise draw) quiet.
    MMLogger.get_instance('depict_analysis', log_level='WARNING')
    models = [(args.config, args.checkpoint)] + [tuple(pair) for pair in args.compare]
    labels = args.labels or [osp.splitext(osp.basename(c))[0] for c, _ in models]
    results, all_grams = [], []
    for index, ((config, checkpoint), label) in enumerate(zip(models, labels)):
        print(f'[{index + 1}/{len(models)}] analysing {label}', flush=True)
        result, grams = analyse(config, checkpoint, label, args)
        all_grams.append(grams)
        results.append(result)
    figures, layout = plot_all(args.out, results, all_grams, args.eps)
    report = dict(
        settings=dict(eps=args.eps, token_norm=args.token_norm, sigmas=args.sigmas,
                      noise_repeats=args.noise_repeats, max_images=args.max_images,
                      seed=args.seed,
                      orthogonality_error='||B B^T - I||_F / ||I||_F over the rows of B',
                      coding_rate='0.5 logdet(I + d/(N eps^2) Z^T Z), mean over windows',
                      noise='theta + sigma * N(0, 1) on every decode-head parameter'),
        models=[{k: v for k, v in r.items() if not k.startswith('_')} for r in results],
        figures=[osp.basename(f) for f in figures],
        figure_layout=layout)
    json_path = osp.join(args.out, 'analysis.json')
    with open(json_path, 'w') as f:
        json.dump(report, f, indent=2)
    for result in results:
        errors = ', '.join(f'{n}: {v["error"]:.3f}' for n, v in result['projections'].items())
        print(f'{result["label"]}: clean mIoU {result["miou"]:.2f}; '
              f'P orthogonality errors [{errors or "n/a"}]')
        print('  noise: ' + ', '.join(f'σ={c["sigma"]}: {c["miou_mean"]:.2f}'
                                      for c in result['noise']))
    print(f'wrote {json_path} and {len(figures)} figures to {args.out}')


if __name__ == '__main__':
    main()
