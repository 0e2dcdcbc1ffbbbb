# Segmenter mask transformer, ViT-S/16 on ADE20K at 512x512 (Strudel et al., ICCV 2021).
# Targets the official Seg-S-Mask/16 ADE20K val result: 45.3 mIoU ss / 46.9 ms
# (ss: short side resized to 512, slide window 512 / stride 480; ms: ratios
# 0.5-1.75 + flip; docs/protocols.md says which multi-scale definition).
# Recipe: SGD lr 1e-3, momentum 0.9, wd 0, poly 0.9, batch 8 (8 GPUs x 1), 160k
# iterations, drop-path 0.1, mean = std = 127.5, AugReg ViT (IN-21k -> IN-1k, 384).
_base_ = [
    '../_base_/backbones/vit-s16.py',
    '../_base_/decoders/segmenter-mask.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/schedules/segmenter_160k.py',
    '../_base_/default_runtime.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _base_.decoder.backbone,
        img_size=crop_size,
        # The official Segmenter / DEPICT encoder conventions (docs/protocols.md,
        # "Parity with the official code" #1-3): LN eps 1e-5, bilinear resizing
        # of the position embeddings.
        interpolate_mode='bilinear',
        norm_cfg=dict(type='LN', eps=1e-5, requires_grad=True),
    ),
    decode_head=dict(_base_.decoder.decode_head, num_classes=150),
    # Windows every (window - 32) pixels; logits upsampled to the patch-padded
    # size, then cropped (Segmenter's inference, #12-13).
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(480, 480), pad_to_patch=16))
train_dataloader = dict(batch_size=1)
