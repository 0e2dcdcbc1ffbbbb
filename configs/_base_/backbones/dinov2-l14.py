# DINOv2-L/14 with 4 registers (LVD-142M; timm vit_large_patch14_reg4_dinov2):
# width 1024, 24 blocks, 16 heads; ImageNet mean / std. Docs: docs/backbones.md.
_base_ = ['./timm-vit.py']
model = dict(data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
             backbone=dict(model_name='vit_large_patch14_reg4_dinov2.lvd142m', out_indices=(7, 15, 23)),
             decode_head=dict(in_channels=1024))
