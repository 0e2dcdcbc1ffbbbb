# Representation separation (reconstruction, docs/repsep.md) on the toy ViT and
# toy dataset: two-pathway ViT + SASM + DCA, all on (= ablation 3).
# Same dataset, schedule and toy ViT as
# configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py; only the model
# part differs. The four ablation configs (repsep-ablation-{0..3}_*) are
# cumulative and differ from their predecessor in ONE line each:
#   0 baseline (= Segmenter's mask transformer on the plain toy ViT)
#   1 + two-pathway (the backbone type line), 2 + SASM (with_sasm), 3 + DCA (with_dca).
_base_ = [
    '../_base_/backbones/vit-toy.py',
    '../_base_/decoders/repsep.py',
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
        # The two-pathway ViT (+ the local pathway of LSBs; toy width 16).
        type='TwoPathwayVisionTransformer', local_channels=16,
    ),
    decode_head=dict(
        _base_.decoder.decode_head,
        num_classes=8,
        num_heads=2, region_proj_channels=32,  # toy variant
    ),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(48, 48)))
