# SegViT ATM on BEiT-B/16 (BEiT IN-22k pre-training + IN-22k fine-tuning), ADE20K
# 512x512: OUR configuration, not a paper's (SegViT v2 reports BEiT-v2 results,
# not this). One-line backbone swap of segvit_vit-b16_8xb2-160k_ade20k-512x512.py:
# ATM reads layers 6, 8, 12 without a final norm. Weights: docs/backbones.md.
_base_ = ['../segvit/segvit_vit-b16_8xb2-160k_ade20k-512x512.py', '../_base_/models/beit.py']
model = dict(
    pretrained='data/pretrain/beit_base_patch16_224_pt22k_ft22k_mmseg.pth',
    data_preprocessor={{_base_.beit_data_preprocessor}},
    backbone=dict(_base_.beit_b16, img_size=(512, 512), out_indices=(5, 7, 11),
                  final_norm=False))
