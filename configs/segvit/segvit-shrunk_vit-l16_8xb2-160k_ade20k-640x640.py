# SegViT-Shrunk (QD in the ViT after block 8, QU + single-stage ATM head), ViT-L/16
# on ADE20K at 640x640 (Zhang et al., NeurIPS 2022, Sec. 3.3).
# Targets the official result: 53.9 mIoU ss / 55.1 ms at 373.5 GFLOPs
# (multiply-accumulates, whole model, one 640x640 window).
# ss: short side resized to 640, slide window 640 / stride 608; ms: ratios
# 0.5-1.75 of that test size + flip, as the paper (mmseg 0.x protocol,
# docs/protocols.md).
# Recipe (the official Shrunk config inherits the ViT-L one): AdamW lr 2e-5
# (decode head x10), wd 0.01, no decay on backbone norms, 1500-iteration linear
# warm-up then poly 1.0, grad clip 35, 160k iterations, batch 16 (8 GPUs x 2),
# drop-path 0.3, AugReg ViT-L (IN-21k -> IN-1k, 384), mean = std = 127.5.
_base_ = [
    '../_base_/backbones/vit-l16.py',
    '../_base_/decoders/segvit-shrunk.py',
    '../_base_/datasets/ade20k_640x640.py',
    '../_base_/schedules/segvit_160k.py',
    '../_base_/default_runtime.py'
]
crop_size = (640, 640)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _base_.decoder.backbone,
        img_size=crop_size,
        # Query-based downsampling (QD) after block 8: Shrunk's backbone.
        type='ShrunkVisionTransformer', shrink_index=8, out_indices=(7, 23),
        drop_path_rate=0.3,  # SegViT's ViT-L recipe
    ),
    decode_head=dict(_base_.decoder.decode_head, num_classes=150),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(608, 608)))
train_dataloader = dict(batch_size=2)
# SegViT's protocol (mmseg 0.x, docs/protocols.md): no window upsampling;
# multi-scale ratios of the test size.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, 640), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='MultiScaleTTA', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75], ratios_of='test_size',
         scale=(2560, 640))
]
