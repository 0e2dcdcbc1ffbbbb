# segmenter on EVA-02-L/14 (MIM on Merged-38M, fine-tuned IN-22k -> IN-1k),
# ADE20K 512x512: OUR configuration, not a paper's (no published number).
# One-line backbone swap of segmenter-mask_vit-b16_8xb1-160k_ade20k-512x512.py:
# the decoder, schedule and data are that config's; the head takes the
# ViT-L width. Backbone and weights: docs/backbones.md.
_base_ = [
    '../segmenter/segmenter-mask_vit-b16_8xb1-160k_ade20k-512x512.py',
    '../_base_/models/timm_vit-l14.py'
]
model = dict(
    pretrained=None,
    data_preprocessor={{_base_.eva02_data_preprocessor}},
    backbone={{_base_.eva02_l14}},
    decode_head=dict(in_channels=1024, channels=1024, embed_dims=1024, num_heads=16))
