# EoMT-L (DINOv2-L with 4 registers, patch 16), Cityscapes 1024x1024 semantic
# (Kerssies et al., CVPR 2025). Targets the official model zoo's 84.2 mIoU
# (single scale; tue-mps/eomt model_zoo/dinov2.md,
# cityscapes_semantic_eomt_large_1024). Recipe:
# configs/_base_/schedules/eomt_cityscapes_20k.py (the official one), total batch
# 16 = 4 GPUs x 4. Encoder and data as the ADE20K leaf
# (eomt_dinov2-l16_4xb4-39k_ade20k-512x512.py) at 1024: the long side scaled to
# 1024 x [0.5, 2], 1024 crops. Protocol: single scale on the full 2048x1024
# frames, two 1024 windows side by side (the official windows), no masks.
_base_ = [
    '../_base_/backbones/dinov2-l14.py',
    '../_base_/decoders/eomt.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/schedules/eomt_cityscapes_20k.py',
    '../_base_/default_runtime.py'
]
crop_size = (1024, 1024)
model = dict(
    type='EoMTEncoderDecoder',
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _base_.decoder.backbone,
        type='EoMTTimmViT',
        img_size=crop_size,
        model_kwargs=dict(patch_size=16),
        drop_path_rate=0.0,
    ),
    decode_head=dict(_base_.decoder.decode_head, num_classes=19, patch_size=16),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(1024, 1024)))
train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='UpscaleToWindow', window_size=crop_size),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='MultiScaleTTA', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75], ratios_of='test_size',
         scale=(2048, 1024), window=crop_size)
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
# The official mask annealing of this schedule (the runtime list + the EoMT hook).
custom_hooks = [
    dict(type='SegDataCheckHook'),
    dict(type='EoMTMaskAnnealingHook', start_iters=[3317, 6634, 9951, 13268],
         end_iters=[6634, 9951, 13268, 16585], power=0.9)
]
