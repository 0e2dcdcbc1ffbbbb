# SegViT-Shrunk (QD backbone, QU + single-stage ATM head) on the toy ViT and the
# embedded toy dataset: the same dataset, schedule, runtime and backbone weights
# layout as the Segmenter toy config; only the decoder (and QD) differ.
# No published number (a sanity / comparison task).
_base_ = [
    '../_base_/backbones/vit-toy.py',
    '../_base_/decoders/segvit-shrunk.py',
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
        # Query-based downsampling (QD) inside the ViT: Shrunk's backbone.
        type='ShrunkVisionTransformer', shrink_index=2, out_indices=(1, 3),
        final_norm=True, with_cls_token=True,  # toy variant
    ),
    decode_head=dict(
        _base_.decoder.decode_head,
        num_classes=8,
        channels=64, num_heads=2, query_grid=(8, 8),  # toy variant
    ),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(48, 48)))
