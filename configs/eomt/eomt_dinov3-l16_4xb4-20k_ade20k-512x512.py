# EoMT-L on DINOv3-L/16 (LVD-1689M), ADE20K 512x512 semantic (Kerssies et al.,
# CVPR 2025; DINOv3 models added to the official zoo later). Targets the official
# model zoo's 59.5 mIoU (single scale; tue-mps/eomt model_zoo/dinov3.md,
# ade_semantic_eomt_large_512_dinov3). Encoder: timm's DINOv3-L with the q / v
# biases the official Hugging Face model trains (vit_large_patch16_dinov3_qkvb;
# the same function, tested: docs/eomt.md) and, as that model in training, RoPE
# coordinates rescaled by a log-uniform factor in [1/2, 2]. Recipe:
# configs/_base_/schedules/eomt-dinov3_ade20k_20k.py (the official DINOv3 one),
# total batch 16 = 4 GPUs x 4. Data and protocol as the DINOv2 leaf
# (eomt_dinov2-l16_4xb4-39k_ade20k-512x512.py).
_base_ = [
    '../_base_/backbones/dinov3-l16.py',
    '../_base_/decoders/eomt.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/schedules/eomt-dinov3_ade20k_20k.py',
    '../_base_/default_runtime.py'
]
crop_size = (512, 512)
model = dict(
    type='EoMTEncoderDecoder',
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _base_.decoder.backbone,
        type='EoMTTimmViT',
        model_name='vit_large_patch16_dinov3_qkvb.lvd1689m',
        model_kwargs=dict(rope_rescale_coords=2.0),
        img_size=crop_size,
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
    dict(type='EoMTMaskAnnealingHook', start_iters=[0, 6520, 9780, 13040],
         end_iters=[3000, 9780, 13040, 16300], power=0.9)
]
