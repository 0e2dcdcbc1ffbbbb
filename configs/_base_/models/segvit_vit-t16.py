# SegViT's ATM decoder on ViT-T/16: ../backbones/vit-t16.py joined with
# ../decoders/segvit.py (docs/configs.md).
# Blocks 6, 8, 12 (out_indices 5, 7, 11), as the official ViT-B config.
# Decoder width: half the backbone's; heads: the backbone's.
_base_ = ['../backbones/vit-t16.py', '../decoders/segvit.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=dict(_base_.decoder.backbone, out_indices=(5, 7, 11)),
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims // 2,
                              num_heads=__vit.num_heads))
