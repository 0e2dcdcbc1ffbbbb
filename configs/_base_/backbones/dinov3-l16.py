# DINOv3-L/16 (LVD-1689M; timm vit_large_patch16_dinov3, timm >= 1.0.20): width
# 1024, 24 blocks, 16 heads, RoPE, 4 registers; ImageNet mean / std. Outputs
# blocks 8, 16, 24 (SegViT's choice for this depth). Docs: docs/backbones.md.
_base_ = ['./timm-vit.py']
model = dict(data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
             backbone=dict(model_name='vit_large_patch16_dinov3.lvd1689m', out_indices=(7, 15, 23)),
             decode_head=dict(in_channels=1024))
