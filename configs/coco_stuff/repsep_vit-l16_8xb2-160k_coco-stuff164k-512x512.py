# Representation separation (our reconstruction, docs/repsep.md) on ViT-L/16,
# COCO-Stuff-164K, 512x512: OUR configuration (the paper's five benchmarks are
# not named in its public abstract). The ADE20K ViT-L recipe of this project
# on the COCO-Stuff-164K dataset part: 171 classes, 160k iterations, batch 16;
# test at short side 512, slide 512 / 341 (docs/protocols.md).
_base_ = [
    '../_base_/backbones/vit-l16.py',
    '../_base_/decoders/repsep.py',
    '../_base_/datasets/coco-stuff164k.py',
    '../_base_/schedules/schedule_adamw-lld_160k.py',
    '../_base_/default_runtime.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _base_.decoder.backbone,
        img_size=crop_size,
        type='TwoPathwayVisionTransformer',  # + the local pathway (LSBs)
        drop_path_rate=0.4,
    ),
    decode_head=dict(_base_.decoder.decode_head, num_classes=171),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
train_dataloader = dict(batch_size=2)
