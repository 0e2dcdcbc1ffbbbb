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
    '../_base_/models/segvit_vit-l16.py',
    '../_base_/datasets/ade20k_640x640.py', '../_base_/schedules/segvit_160k.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
train_dataloader = dict(batch_size=2)
# SegViT's protocol: mmseg's single-scale view, mmseg 0.x multi-scale views.
val_dataloader = dict(dataset=dict(pipeline=_base_.protocols.test_mmseg))
test_dataloader = val_dataloader
tta_pipeline = _base_.protocols.tta_mmseg0x
