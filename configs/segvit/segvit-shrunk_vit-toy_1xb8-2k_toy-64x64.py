# SegViT-Shrunk (QD backbone, QU + single-stage ATM head) on the toy ViT and the
# embedded toy dataset: the same dataset, schedule, runtime and backbone weights
# layout as the Segmenter toy config; only the decoder (and QD) differ.
# No published number (a sanity / comparison task).
_base_ = [
    '../_base_/models/segvit-shrunk_vit-l16_atm.py', '../_base_/models/vit-toy.py',
    '../_base_/datasets/toy.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toy.py'
]
model = dict(
    pretrained=None,
    data_preprocessor={{_base_.toy_data_preprocessor}},
    # The shared toy ViT (CLS token and final LN kept, see the ATM toy config)
    # with QD; the only keys changed: the type, the QD block (the third of four,
    # like the ninth of ViT-L's 24 after block 8) and the two layers read (the
    # last full-resolution block and the last block, as ViT-L's 7 and 23).
    backbone=dict(_base_.toy_backbone, type='ShrunkVisionTransformer', shrink_index=2,
                  out_indices=(1, 3)),
    test_cfg={{_base_.slide_test_cfg}},
    decode_head=dict(
        in_channels={{_base_.toy_width}},
        channels={{_base_.toy_width}},
        num_heads={{_base_.toy_heads}},
        num_classes={{_base_.toy_num_classes}},
        query_grid=(8, 8)))  # toy crop 64 / patch 8
