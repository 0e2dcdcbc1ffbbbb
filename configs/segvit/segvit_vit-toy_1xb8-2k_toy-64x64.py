# SegViT's ATM decoder on the toy ViT and the embedded toy dataset: the same
# dataset, schedule, runtime and backbone as the Segmenter toy config
# (configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py); only the
# decoder differs. No published number (a sanity / comparison task).
_base_ = [
    '../_base_/backbones/vit-toy.py',
    '../_base_/decoders/segvit.py',
    '../_base_/datasets/toy.py',
    '../_base_/schedules/schedule_toy.py',
    '../_base_/default_runtime.py'
]
crop_size = (64, 64)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _base_.decoder.backbone,
        img_size=crop_size,
        final_norm=True, with_cls_token=True, frozen_exclude=['all'],  # toy variant
    ),
    decode_head=dict(
        _base_.decoder.decode_head,
        num_classes=8,
        channels=64, num_heads=2,  # toy variant
    ),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(48, 48)))
