# Ablation 3, + DCA: two-pathway toy ViT, SASM and DCA with its training-only
# auxiliary supervision (the full method, same model as repsep_vit-toy_*).
# Same _base_ list, dataset, schedule and toy ViT as
# configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py; only the model
# part differs. The four ablation configs (repsep-ablation-{0..3}_*) are
# cumulative and differ from their predecessor in ONE line each:
#   0 baseline (= Segmenter's mask transformer on the plain toy ViT)
#   1 + two-pathway (backbone line), 2 + SASM (with_sasm), 3 + DCA (with_dca).
_base_ = [
    '../_base_/models/repsep_vit-b16.py', '../_base_/models/vit-toy.py',
    '../_base_/datasets/toy.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_toy.py'
]
model = dict(
    pretrained=None,
    data_preprocessor={{_base_.toy_data_preprocessor}},
    backbone=dict(_base_.toy_backbone, type='TwoPathwayVisionTransformer', local_channels=16),
    test_cfg={{_base_.slide_test_cfg}},
    decode_head=dict(
        type='RepSepHead',
        in_channels={{_base_.toy_width}},
        channels={{_base_.toy_width}},
        embed_dims={{_base_.toy_width}},
        num_heads={{_base_.toy_heads}},
        num_classes={{_base_.toy_num_classes}},
        with_sasm=True,
        with_dca=True,
        region_proj_channels=32))
