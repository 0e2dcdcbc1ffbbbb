# Representation separation (reconstruction) on the toy ViT:
# ../backbones/vit-toy.py joined with ../decoders/repsep.py (docs/configs.md).
# Decoder width and heads: the backbone's. Toy: local pathway of 16 channels,
# region projection of 32.
_base_ = ['../backbones/vit-toy.py', '../decoders/repsep.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=dict(_base_.decoder.backbone, local_channels=16),
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims,
                              embed_dims=__vit.embed_dims, num_heads=__vit.num_heads,
                              region_proj_channels=32))
