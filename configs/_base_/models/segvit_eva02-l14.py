# SegViT's ATM decoder on EVA-02-L/14 (TimmViT, docs/configs.md): blocks 8, 16, 24 as
# SegViT's ViT-L, no final norm; decoder width half the backbone's, 16 heads.
_base_ = ['../backbones/eva02-l14.py', '../decoders/segvit.py']
__width = _base_.model.decode_head.in_channels  # the backbone part's width
model = dict(backbone=dict(final_norm=_base_.decoder.backbone.final_norm, out_indices=(7, 15, 23)),
             decode_head=dict(_base_.decoder.decode_head, channels=__width // 2, num_heads=16))
