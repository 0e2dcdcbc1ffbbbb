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
    '../_base_/models/segvit_vit-l16_atm.py', '../_base_/datasets/ade20k_640x640.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_160k.py'
]
crop_size = (640, 640)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=crop_size),
    test_cfg={{_base_.slide_test_cfg}})
# custom_keys take precedence over norm_decay_mult in mmengine, so the head's
# LayerNorms keep weight decay with lr x10 and only the backbone's are exempt:
# what the official mmcv-1.x keys ('head' matched before 'norm' / 'ln') did.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}, norm_decay_mult=0.0),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=160000)
]
train_dataloader = dict(batch_size=2)
# The paper's protocol (mmseg 0.x): ss at the test size, ms at ratios of it.
tta_pipeline = {{_base_.tta_pipeline_mmseg0x}}
val_dataloader = dict(batch_size=1, dataset=dict(pipeline={{_base_.test_pipeline_mmseg}}))
test_dataloader = val_dataloader
