# SegViT's ATM decoder on ViT-L/16: ../backbones/vit-l16.py joined with
# ../decoders/segvit.py (docs/configs.md).
# Blocks 8, 16, 24 (out_indices 7, 15, 23) and drop-path 0.3, as the official ViT-L configs.
# Decoder width: half the backbone's; heads: the backbone's.
_base_ = ['../backbones/vit-l16.py', '../decoders/segvit.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=dict(_base_.decoder.backbone, out_indices=(7, 15, 23), drop_path_rate=0.3),
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims // 2,
                              num_heads=__vit.num_heads))
