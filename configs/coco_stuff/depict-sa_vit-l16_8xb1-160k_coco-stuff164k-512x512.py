# DEPICT-SA on ViT-L/16, COCO-Stuff-164K, 512x512: OUR configuration (DEPICT
# reports no COCO-Stuff number). The ADE20K ViT-L recipe (DEPICT's own) on the
# COCO-Stuff-164K dataset part: 171 classes, 160k iterations, batch 8; test at
# short side 512, slide 512 / 341 (docs/protocols.md).
_base_ = [
    '../_base_/backbones/vit-l16.py',
    '../_base_/decoders/depict-sa.py',
    '../_base_/datasets/coco-stuff164k.py',
    '../_base_/schedules/segmenter_160k.py',
    '../_base_/default_runtime.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _base_.decoder.backbone,
        img_size=crop_size,
    ),
    decode_head=dict(_base_.decoder.decode_head, num_classes=171),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
train_dataloader = dict(batch_size=1)
