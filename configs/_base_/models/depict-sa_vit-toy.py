# DEPICT-SA on the toy ViT: ../backbones/vit-toy.py joined with
# ../decoders/depict-sa.py (docs/configs.md).
# Toy: K = 2 subspaces of p = 32 (K*p = d = 64).
_base_ = ['../backbones/vit-toy.py', '../decoders/depict-sa.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=_base_.decoder.backbone,
             decode_head=dict(_base_.decoder.decode_head, num_heads=__vit.num_heads, head_dims=32))
