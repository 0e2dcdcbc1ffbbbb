# Representation separation (reconstruction) on ViT-T/16: ../backbones/vit-t16.py joined with
# ../decoders/repsep.py (docs/configs.md).
# Decoder width and heads: the backbone's; drop-path 0.3 (our recipe, docs/repsep.md).
_base_ = ['../backbones/vit-t16.py', '../decoders/repsep.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=dict(_base_.decoder.backbone, drop_path_rate=0.3),
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims,
                              embed_dims=__vit.embed_dims, num_heads=__vit.num_heads))
