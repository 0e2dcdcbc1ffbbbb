# Segmenter mask transformer, ViT-T/16 on ADE20K at 512x512 (Strudel et al., ICCV 2021).
# Targets the official Seg-T-Mask/16 ADE20K val result: 38.1 mIoU ss / 38.8 ms
# (ss: short side resized to 512, slide window 512 / stride 480; ms: ratios
# 0.5-1.75 + flip; docs/protocols.md says which multi-scale definition).
# Recipe: SGD lr 1e-3, momentum 0.9, wd 0, poly 0.9, batch 8 (8 GPUs x 1), 160k
# iterations, drop-path 0.1, mean = std = 127.5, AugReg ViT (IN-21k -> IN-1k, 384).
_base_ = [
    '../_base_/models/segmenter-mask_vit-t16.py',
    '../_base_/datasets/ade20k.py', '../_base_/schedules/segmenter_160k.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
train_dataloader = dict(batch_size=1)
