# Segmenter's mask transformer on ViT-L/16: ../backbones/vit-l16.py joined with
# ../decoders/segmenter-mask.py (docs/configs.md).
# Decoder width and heads: the backbone's (Segmenter).
_base_ = ['../backbones/vit-l16.py', '../decoders/segmenter-mask.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=_base_.decoder.backbone,
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims,
                              embed_dims=__vit.embed_dims, num_heads=__vit.num_heads))
