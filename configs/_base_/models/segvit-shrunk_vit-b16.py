# SegViT-Shrunk on ViT-B/16: ../backbones/vit-b16.py joined with
# ../decoders/segvit-shrunk.py (docs/configs.md).
# Our choice for 12 layers (no official config): QD after block 4, a third of
# the depth as ViT-L's 8 of 24; reads blocks 4 and 12; 32x32 query grid (512 / 16).
# Decoder width: half the backbone's; heads: the backbone's.
_base_ = ['../backbones/vit-b16.py', '../decoders/segvit-shrunk.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=dict(_base_.decoder.backbone, shrink_index=4, out_indices=(3, 11)),
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims // 2,
                              num_heads=__vit.num_heads, query_grid=(32, 32)))
