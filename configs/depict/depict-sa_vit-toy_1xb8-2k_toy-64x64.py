# DEPICT-SA on the toy ViT and the embedded toy dataset: no published number; the
# same-seed toy comparison with the Segmenter toy config (same dataset,
# schedule and backbone; only the decoder differs). The head uses the toy width
# and K = 2, p = 32 (K*p = d = 64), the official 3 layers.
# cls_emb is kept out of weight decay by the shared toy schedule (AdamW, wd 0.01).
_base_ = [
    '../_base_/backbones/vit-toy.py',
    '../_base_/decoders/depict-sa.py',
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
        num_heads=2, head_dims=32,  # toy variant: K = 2, p = 32
    ),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(48, 48)))
