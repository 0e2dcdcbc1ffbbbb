# EoMT-L (DINOv2-L with 4 registers, patch 16), ADE20K 512x512 semantic
# (Kerssies et al., CVPR 2025). Targets the official model zoo's 58.4 mIoU
# (single scale; tue-mps/eomt model_zoo/dinov2.md, ade20k_semantic_eomt_large_512).
# Recipe: configs/_base_/schedules/eomt_ade20k_39k.py (the official one), total
# batch 16 = 4 GPUs x 4. Encoder as the official: timm DINOv2-L/14 built with
# patch 16 (timm resamples the patch embedding and the position grid when it
# loads the weights), no drop-path. Data as the official: the long side scaled to
# 512 x [0.5, 2] (torchvision's ScaleJitter), 512 crops without the class-ratio
# rule, flip, colour jitter (PhotoMetricDistortion's ranges are the official).
# Protocol: single scale, short side 512, 512 windows every 512 pixels (the
# official windows for images up to 2:1; docs/eomt.md), no attention masks.
_base_ = [
    '../_base_/backbones/dinov2-l14.py',
    '../_base_/decoders/eomt.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/schedules/eomt_ade20k_39k.py',
    '../_base_/default_runtime.py'
]
crop_size = (512, 512)
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
    decode_head=dict(_base_.decoder.decode_head, num_classes=150, patch_size=16),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(512, 512)))
train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
# The official mask annealing of this schedule (the runtime list + the EoMT hook).
custom_hooks = [
    dict(type='SegDataCheckHook'),
    dict(type='EoMTMaskAnnealingHook', start_iters=[6520, 13040, 19560, 26080],
         end_iters=[13040, 19560, 26080, 32600], power=0.9)
]
