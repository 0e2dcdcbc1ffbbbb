# SegViT's ATM decoder on BEiT-B/16 (docs/configs.md): layers 6, 8, 12 as SegViT's
# ViT-B, no final norm; decoder width half the backbone's, heads the backbone's.
_base_ = ['../backbones/beit-b16.py', '../decoders/segvit.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=dict(final_norm=_base_.decoder.backbone.final_norm, out_indices=(5, 7, 11)),
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims // 2,
                              num_heads=__vit.num_heads))
