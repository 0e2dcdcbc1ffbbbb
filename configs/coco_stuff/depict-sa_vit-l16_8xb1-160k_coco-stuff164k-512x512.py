# DEPICT-SA on ViT-L/16, COCO-Stuff-164K, 512x512: OUR configuration (DEPICT
# reports no COCO-Stuff number). The ADE20K ViT-L recipe (DEPICT's own) on the
# COCO-Stuff-164K base: 171 classes, 160k iterations, batch 8; test at short
# side 512, slide 512 / 341 (docs/protocols.md).
_base_ = [
    '../_base_/models/depict-sa_vit-l16.py', '../_base_/datasets/coco-stuff164k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_160k.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=crop_size),
    decode_head=dict(num_classes=171),
    test_cfg={{_base_.slide_test_cfg}})
optim_wrapper = dict(
    optimizer=dict(lr=0.001, weight_decay=0.0),
    paramwise_cfg={{_base_.depict_paramwise_cfg}})
train_dataloader = dict(batch_size=1)
val_dataloader = dict(batch_size=1)
