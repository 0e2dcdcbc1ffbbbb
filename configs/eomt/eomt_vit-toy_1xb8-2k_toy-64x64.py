# EoMT on the toy ViT and the embedded toy dataset: the same dataset, schedule,
# runtime and backbone as the Segmenter toy config
# (configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py); only the
# decoder differs, and EoMT's decoder is its queries in the backbone's last
# blocks. No published number (a sanity / comparison task).
_base_ = [
    '../_base_/backbones/vit-toy.py',
    '../_base_/decoders/eomt.py',
    '../_base_/datasets/toy.py',
    '../_base_/schedules/schedule_toy.py',
    '../_base_/default_runtime.py'
]
crop_size = (64, 64)
model = dict(
    type='EoMTEncoderDecoder',
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _base_.decoder.backbone,
        type='EoMTVisionTransformer',
        img_size=crop_size,
        num_queries=16, num_blocks=2,  # toy variant: 8 classes, 4 blocks
    ),
    decode_head=dict(
        _base_.decoder.decode_head,
        num_classes=8,
        patch_size=8,
        # toy variant: 1024 points per mask (the official 12544 = 112² is for 512
        # crops; the toy's masks are 16x16) cut a CPU step from 0.5 s to 0.1 s.
        loss_decode=dict(_base_.decoder.decode_head.loss_decode, num_points=1024),
    ),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(48, 48)))
# Mask annealing over the toy schedule, staggered per block as the official
# recipe (ADE20K: block l of 4 over the (l+1)-th sixth of training; here the
# 2 blocks over the 2nd and 3rd quarters), masks off for the last quarter.
custom_hooks = [
    dict(type='SegDataCheckHook'),
    dict(type='EoMTMaskAnnealingHook', start_iters=[500, 1000], end_iters=[1000, 1500])
]
