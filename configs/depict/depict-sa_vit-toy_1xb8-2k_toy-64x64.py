# DEPICT-SA on the toy ViT and the embedded toy dataset: no published number; the
# same-seed toy comparison with the Segmenter toy config (same _base_ list, dataset,
# schedule and backbone; only the model part differs). The head uses the toy width
# and K = 2, p = 32 (K*p = d = 64), the official 3 layers.
# cls_emb is kept out of weight decay by the shared toy schedule (AdamW, wd 0.01).
_base_ = [
    '../_base_/models/depict-sa_vit-l16.py', '../_base_/models/vit-toy.py',
    '../_base_/datasets/toy.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toy.py'
]
model = dict(
    pretrained=None,
    data_preprocessor={{_base_.toy_data_preprocessor}},
    backbone={{_base_.toy_backbone}},
    test_cfg={{_base_.slide_test_cfg}},
    decode_head=dict(
        in_channels={{_base_.toy_width}},
        num_classes={{_base_.toy_num_classes}},
        num_heads={{_base_.toy_heads}},
        head_dims=32,
    ))
