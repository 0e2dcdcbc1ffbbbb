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
    '../_base_/models/segvit-shrunk_vit-l16.py',
    '../_base_/datasets/ade20k_640x640.py', '../_base_/schedules/segvit_160k.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
train_dataloader = dict(batch_size=2)
# SegViT's protocol: mmseg's single-scale view, mmseg 0.x multi-scale views.
val_dataloader = dict(dataset=dict(pipeline=_base_.protocols.test_mmseg))
test_dataloader = val_dataloader
tta_pipeline = _base_.protocols.tta_mmseg0x
