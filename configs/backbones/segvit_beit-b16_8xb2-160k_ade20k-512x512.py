# SegViT ATM on BEiT-B/16 (BEiT IN-22k pre-training + IN-22k fine-tuning), ADE20K
# 512x512: OUR configuration, not a paper's (SegViT v2 reports BEiT-v2 results,
# not this). Backbone swap of segvit_vit-b16_8xb2-160k_ade20k-512x512.py (another
# family: the backbone line and entries, docs/configs.md):
# ATM reads layers 6, 8, 12 without a final norm. Weights: docs/backbones.md.
_base_ = [
    '../_base_/backbones/beit-b16.py',
    '../_base_/decoders/segvit.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/schedules/segvit_160k.py',
    '../_base_/default_runtime.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        final_norm=_base_.decoder.backbone.final_norm,
        img_size=crop_size,
    ),
    decode_head=dict(_base_.decoder.decode_head, num_classes=150),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
train_dataloader = dict(batch_size=2)
# SegViT's protocol (mmseg 0.x, docs/protocols.md): no window upsampling;
# multi-scale ratios of the test size.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='MultiScaleTTA', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75], ratios_of='test_size',
         scale=(2048, 512))
]
