"""Does SegViT-Shrunk's query upsampler (QU) look where its queries sit?

Usage::

    python tools/analysis_tools/shrunk_locality.py CONFIG CHECKPOINT [--num-images 16]

For a trained :class:`~depict.models.decode_heads.ShrunkATMHead` this prints

* the fraction of predicted pixels per class on the first validation images
  (a one-class or "sky above, ground below" prediction shows as two classes);
* per QU layer, the attention mass that grid query (i, j) puts on the 3×3
  neighbourhood of its own position in the feature map it reads, next to the
  same mass under uniform attention. QU can only rebuild a 1/16 map if this
  mass is well above uniform; the official QU has no position embedding, so it
  relies on the backbone features carrying position.

docs/toy_dataset.md ("Learning parity") explains the measured figures.
"""
import argparse
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor


class Locality(NamedTuple):
    """Attention mass of the grid queries on their own 3×3 neighbourhood."""
    mass: float  # measured, averaged over queries, heads and images
    uniform: float  # the same under uniform attention


def neighbourhood(grid: tuple[int, int], keys: tuple[int, int]) -> Tensor:
    """(h*w, h_k*w_k) bool: key positions within one key cell (3×3) of each query's
    position, the query grid mapped onto the key grid."""
    (h, w), (kh, kw) = grid, keys
    qi, qj = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    ki, kj = torch.meshgrid(torch.arange(kh), torch.arange(kw), indexing='ij')
    # Query (i, j) sits at key coordinates (i * kh / h, j * kw / w).
    rows = (ki.flatten()[None] - qi.flatten()[:, None] * kh / h).abs() <= 1
    cols = (kj.flatten()[None] - qj.flatten()[:, None] * kw / w).abs() <= 1
    return rows & cols


@torch.no_grad()
def qu_locality(head, inputs: list[Tensor]) -> list[Locality]:
    """Per QU layer (early stage first), the locality of its cross-attention.

    Args:
        head: A :class:`ShrunkATMHead`.
        inputs: The backbone outputs it reads.
    """
    features = head._transform_inputs(inputs)
    laterals = [lateral(x) for lateral, x in zip(head.laterals, features)]
    upsampler = head.upsampler
    size = tuple(features[0].shape[-2:])
    grid = upsampler.grid
    if tuple(grid.shape[-2:]) != size:
        grid = torch.nn.functional.interpolate(grid, size=size, mode=upsampler.interpolate_mode,
                                               align_corners=False)
    # (1, C, h, w) -> (B, h*w, C)
    query = grid.flatten(2).transpose(1, 2).expand(features[0].shape[0], -1, -1)
    results = []
    for layers, feature in zip(upsampler.stages, laterals):
        memory = feature.flatten(2).transpose(1, 2)  # (B, C, h_k, w_k) -> (B, h_k*w_k, C)
        near = neighbourhood(size, tuple(feature.shape[-2:])).to(memory.dtype)
        for layer in layers:
            query, logits = layer(query, memory, return_logits=True)
            # (B, H, Nq, Nk) -> mass on the neighbourhood, averaged over B, H, Nq
            mass = torch.einsum('bhqk,qk->bhq', logits.softmax(dim=-1), near).mean()
            results.append(Locality(float(mass), float(near.mean(dim=1).mean())))
    return results


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Locality of the Shrunk QU attention')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--num-images', type=int, default=16)
    return parser.parse_args()


@torch.no_grad()
def measure(model, dataset, crop: tuple[int, int],
            num_images: int = 16) -> tuple[np.ndarray, list[Locality]]:
    """(share of predicted pixels per class, QU locality per layer) of a Shrunk
    segmentor (eval mode) on the first ``num_images`` of ``dataset``; locality is
    measured on their top-left ``crop`` (the training size)."""
    counts = np.zeros(model.decode_head.num_classes)
    crops = []
    for index in range(min(num_images, len(dataset))):
        item = dataset[index]
        data = model.data_preprocessor(dict(inputs=[item['inputs']],
                                            data_samples=[item['data_samples']]), False)
        pred = model.predict(data['inputs'], data['data_samples'])[0].pred_sem_seg.data
        counts += np.bincount(pred.flatten().numpy(), minlength=len(counts))
        crops.append(data['inputs'][..., :crop[0], :crop[1]])
    localities = qu_locality(model.decode_head, model.backbone(torch.cat(crops)))
    return counts / counts.sum(), localities


def main() -> None:
    args = parse_args()
    from mmseg.apis import init_model
    from mmseg.registry import DATASETS

    from depict.utils.config import load_config
    cfg = load_config(args.config)
    model = init_model(cfg, args.checkpoint, device='cpu')
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    crop = cfg.model.data_preprocessor.get('size') or cfg.crop_size
    shares, localities = measure(model, dataset, crop, args.num_images)
    classes = dataset.metainfo['classes']
    print('predicted pixels per class: ' + ', '.join(
        f'{name} {share:.2f}' for name, share in zip(classes, shares)))
    for index, loc in enumerate(localities):
        print(f'QU layer {index}: attention mass on own 3x3 neighbourhood {loc.mass:.3f} '
              f'(uniform {loc.uniform:.3f}, ratio {loc.mass / loc.uniform:.2f})')


if __name__ == '__main__':
    main()
