"""How different are DEPICT-CA's class embeddings after the MSCA layers?

Usage::

    python tools/analysis_tools/depict_ca_queries.py CONFIG [CHECKPOINT] [--num-images 8]

Prints, for the first validation images (the top-left training-size crop), the
norm of the learnt class embeddings E, the norm of the MSCA update that every
class shares (its mean over classes) and of the class-specific rest, and the
mean pairwise cosine of the final class embeddings Ê = LN(E^{L_c}) that the
masks are computed with. Without CHECKPOINT: the initialisation. A cosine near
1 means the classes are told apart only by the small E (docs/toy_dataset.md,
"Learning parity").
"""
import argparse
from typing import NamedTuple

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch import Tensor


class QueryStats(NamedTuple):
    embedding_norm: float  # mean |E_c|
    shared_update_norm: float  # |mean_c (E^{L_c}_c - E_c)|, averaged over images
    specific_update_norm: float  # mean |update_c - shared update|
    final_cosine: float  # mean pairwise cosine of Ê over classes (off-diagonal)


@torch.no_grad()
def query_stats(head, inputs: list[Tensor]) -> QueryStats:
    """The statistics above for a :class:`DepictCAHead` on backbone outputs ``inputs``."""
    patches, _, _ = head._patch_tokens(inputs)  # (B, N, d)
    for layer in head.layers:
        patches = layer(patches)
    patches = head.patch_norm(patches)
    start = head._class_embeddings(patches.shape[0])  # (B, C, d)
    classes = start
    for layer in head.cross_layers:
        classes = layer(patches, classes)
    update = classes - start
    shared = update.mean(dim=1, keepdim=True)  # (B, 1, d)
    final = F.normalize(head.class_norm(classes), dim=-1)
    cosine = torch.einsum('bcd,bkd->bck', final, final)  # (B, C, C)
    off_diagonal = ~torch.eye(cosine.shape[-1], dtype=torch.bool)
    return QueryStats(float(start[0].norm(dim=-1).mean()), float(shared.norm(dim=-1).mean()),
                      float((update - shared).norm(dim=-1).mean()),
                      float(cosine[:, off_diagonal].mean()))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='DEPICT-CA class-embedding diversity')
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?')
    parser.add_argument('--num-images', type=int, default=8)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import DATASETS, MODELS
    cfg.model.pretrained = None
    model = MODELS.build(cfg.model)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    else:
        model.init_weights()
    if type(model.decode_head).__name__ != 'DepictCAHead':
        raise SystemExit(f'{args.config}: the decode head is '
                         f'{type(model.decode_head).__name__}; this tool reads a DepictCAHead '
                         f'(DEPICT-CA) config.')
    model.eval()
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    crop = cfg.model.data_preprocessor.get('size') or cfg.crop_size
    crops = []
    for index in range(min(args.num_images, len(dataset))):
        item = dataset[index]
        data = model.data_preprocessor(dict(inputs=[item['inputs']],
                                            data_samples=[item['data_samples']]), False)
        crops.append(data['inputs'][..., :crop[0], :crop[1]])
    with torch.no_grad():
        stats = query_stats(model.decode_head, model.backbone(torch.cat(crops)))
    print(f'|E| {stats.embedding_norm:.3f}  |shared MSCA update| {stats.shared_update_norm:.3f}  '
          f'|class-specific update| {stats.specific_update_norm:.3f}  '
          f'mean pairwise cosine of the final class embeddings {stats.final_cosine:.3f}')


if __name__ == '__main__':
    main()
