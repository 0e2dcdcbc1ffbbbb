# Segmenter's mask transformer on the toy ViT and the embedded toy dataset.
# The reference toy config: every decoder's toy config shares its dataset,
# schedule and backbone and differs in its decoder line and the toy sizes of
# its decoder (marked `# toy variant`; docs/configs.md).
_base_ = [
    '../_base_/backbones/vit-toy.py',
    '../_base_/decoders/segmenter-mask.py',
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
    ),
    decode_head=dict(
        _base_.decoder.decode_head,
        num_classes=8,
        num_heads=2, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.1,  # toy variant
    ),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(48, 48)))
