# Representation separation (our reconstruction, docs/repsep.md) on the
# masked-pretrained BEiT-L/16, PASCAL Context 60 classes, 480x480.
# Known from the paper (abstract): 68.9 mIoU on PASCAL Context with
# masked-pretrained plain ViTs. NOT known (our choice here): which masked model
# (we take BEiT-L/16, IN-22k pre-training + fine-tuning), whether 59 or 60
# classes, the crop (480, this project's PASCAL Context crop), the schedule
# (80k, AdamW 1e-4 with layer-wise decay 0.95 as BEiT-L's segmentation recipe),
# batch 16, drop-path 0.3, and everything in docs/repsep.md. Not a reproduction.
# Backbone swap (the backbone line and type, docs/configs.md) of
# repsep_vit-l16_8xb2-80k_pascal-context-480x480.py, plus BEiT-L's decay rate.
_base_ = [
    '../_base_/backbones/beit-l16.py',
    '../_base_/decoders/repsep.py',
    '../_base_/datasets/pascal_context.py',
    '../_base_/schedules/schedule_adamw-lld_80k.py',
    '../_base_/default_runtime.py'
]
crop_size = (480, 480)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        final_norm=_base_.decoder.backbone.final_norm,
        img_size=crop_size,
        type='TwoPathwayBEiT',  # + the local pathway (LSBs)
    ),
    decode_head=dict(_base_.decoder.decode_head, num_classes=60),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(320, 320)))
train_dataloader = dict(batch_size=2)
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.95))
