# DEPICT-SA on BEiT-B/16 (BEiT IN-22k pre-training + IN-22k fine-tuning), ADE20K
# 512x512: OUR configuration, not a paper's (no published number). One-line
# backbone swap of depict-sa_vit-b16_8xb1-160k_ade20k-512x512.py (DEPICT reads the
# last layer after a final norm, without CLS). Weights: docs/backbones.md.
_base_ = ['../depict/depict-sa_vit-b16_8xb1-160k_ade20k-512x512.py', '../_base_/models/beit.py']
model = dict(
    pretrained='data/pretrain/beit_base_patch16_224_pt22k_ft22k_mmseg.pth',
    data_preprocessor={{_base_.beit_data_preprocessor}},
    backbone=dict(_base_.beit_b16, img_size=(512, 512)))
