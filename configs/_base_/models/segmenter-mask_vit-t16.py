# Segmenter's mask transformer on ViT-T/16: ../backbones/vit-t16.py joined with
# ../decoders/segmenter-mask.py (docs/configs.md).
# Decoder width and heads: the backbone's (Segmenter).
_base_ = ['../backbones/vit-t16.py', '../decoders/segmenter-mask.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
# Official decoder dropout 0.1 / drop-path 0.0 (segm/config.yml; docs/protocols.md,
# "Parity with the official code" #4-5). The toy model keeps mmseg's defaults.
model = dict(backbone=_base_.decoder.backbone,
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims,
                              embed_dims=__vit.embed_dims, num_heads=__vit.num_heads,
                              drop_rate=0.1, attn_drop_rate=0.1, drop_path_rate=0.0))
