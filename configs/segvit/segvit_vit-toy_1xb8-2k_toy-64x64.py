# SegViT's ATM decoder on the toy ViT and the embedded toy dataset: the same
# dataset, schedule, runtime and backbone as the Segmenter toy config
# (configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py); only the
# decoder differs. No published number (a sanity / comparison task).
_base_ = [
    '../_base_/models/segvit_vit-l16_atm.py', '../_base_/models/vit-toy.py',
    '../_base_/datasets/toy.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toy.py'
]
model = dict(
    pretrained=None,
    data_preprocessor={{_base_.toy_data_preprocessor}},
    # The shared toy ViT as it is (CLS token, final LN, layers 1, 2, 3): the ATM
    # head does not need SegViT's no-CLS / no-final-norm ViT, and an identical
    # backbone isolates the decoder in the toy comparisons. The one key reset is
    # frozen_exclude: the ViT-L base freezes cls_token (unused there), which the
    # toy ViT does use.
    backbone=dict(_base_.toy_backbone, frozen_exclude=['all']),
    test_cfg={{_base_.slide_test_cfg}},
    decode_head=dict(
        type='ATMHead',
        in_channels={{_base_.toy_width}},
        channels={{_base_.toy_width}},
        num_heads={{_base_.toy_heads}},
        num_classes={{_base_.toy_num_classes}}))
