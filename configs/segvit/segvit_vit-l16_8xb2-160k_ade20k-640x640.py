# SegViT (ATM decoder), ViT-L/16 on ADE20K at 640x640 (Zhang et al., NeurIPS 2022).
# Targets the official ViT-L ADE20K val result: 54.6 mIoU ss / 55.2 ms at
# 637.9 GFLOPs (multiply-accumulates, whole model, one 640x640 window).
# ss: short side resized to 640, slide window 640 / stride 608; ms: ratios 0.5-1.75
# of that test size + flip, as the paper (mmseg 0.x protocol, docs/protocols.md).
# Recipe: AdamW lr 2e-5 (decode head x10), wd 0.01, no decay on backbone norms,
# 1500-iteration linear warm-up then poly 1.0 to 0, grad clip 35 (L2), 160k
# iterations, batch 16 (8 GPUs x 2), drop-path 0.3, AugReg ViT-L (IN-21k -> IN-1k,
# 384), mean = std = 127.5.
_base_ = [
    '../_base_/backbones/vit-l16.py',
    '../_base_/decoders/segvit.py',
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
