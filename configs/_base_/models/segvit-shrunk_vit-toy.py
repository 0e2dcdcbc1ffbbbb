# SegViT-Shrunk on the toy ViT: ../backbones/vit-toy.py joined with
# ../decoders/segvit-shrunk.py (docs/configs.md).
# Toy: the shared toy ViT (CLS token and final LN kept, as the ATM toy) with
# QD after block 2 (the third of four, like the ninth of ViT-L's 24) and the
# two layers read (1 and 3, as ViT-L's 7 and 23); 8x8 query grid (64 / 8).
_base_ = ['../backbones/vit-toy.py', '../decoders/segvit-shrunk.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=dict(_base_.decoder.backbone, final_norm=True, with_cls_token=True,
                           shrink_index=2, out_indices=(1, 3)),
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims,
                              num_heads=__vit.num_heads, query_grid=(8, 8)))
