# SegViT's ATM decoder on the toy ViT: ../backbones/vit-toy.py joined with
# ../decoders/segvit.py (docs/configs.md).
# Toy: the shared toy ViT as it is (CLS token, final LN, layers 1, 2, 3): an
# identical backbone isolates the decoder in the toy comparisons, so ATM's
# backbone needs are not applied; decoder width = the toy width.
_base_ = ['../backbones/vit-toy.py', '../decoders/segvit.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=dict(frozen_exclude=['all']),
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims,
                              num_heads=__vit.num_heads))
