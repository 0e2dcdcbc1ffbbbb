# Segmenter's mask transformer on the toy ViT and the embedded toy dataset.
# The reference toy config: every decoder's toy config shares its dataset,
# schedule and backbone and differs only in `model.decode_head`.
_base_ = [
    '../_base_/models/segmenter_vit-b16_mask.py', '../_base_/models/vit-toy.py',
    '../_base_/datasets/toy.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toy.py'
]
model = dict(
    pretrained=None,
    data_preprocessor={{_base_.toy_data_preprocessor}},
    backbone={{_base_.toy_backbone}},
    test_cfg={{_base_.slide_test_cfg}},
    decode_head=dict(
        type='SegmenterMaskTransformerHead',
        in_channels={{_base_.toy_width}},
        channels={{_base_.toy_width}},
        embed_dims={{_base_.toy_width}},
        num_heads={{_base_.toy_heads}},
        num_classes={{_base_.toy_num_classes}}))
