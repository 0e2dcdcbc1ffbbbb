# DEPICT-SA on BEiT-B/16 (BEiT IN-22k pre-training + IN-22k fine-tuning), ADE20K
# 512x512: OUR configuration, not a paper's (no published number). One-line
# backbone swap (the backbone line and entries) of depict-sa_vit-b16_8xb1-160k_ade20k-512x512.py (DEPICT reads the
# last layer after a final norm, without CLS). Weights: docs/backbones.md.
_base_ = [
    '../_base_/backbones/beit-b16.py',
    '../_base_/decoders/depict-sa.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/schedules/segmenter_160k.py',
    '../_base_/default_runtime.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        final_norm=_base_.decoder.backbone.final_norm,
        img_size=crop_size,
    ),
    decode_head=dict(_base_.decoder.decode_head, num_classes=150),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(480, 480)))
train_dataloader = dict(batch_size=1)
