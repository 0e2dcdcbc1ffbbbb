# Representation separation (our reconstruction, docs/repsep.md) on ViT-L/16,
# COCO-Stuff-164K, 512x512: OUR configuration (the paper's five benchmarks are
# not named in its public abstract). The ADE20K ViT-L recipe of this project
# on the COCO-Stuff-164K base: 171 classes, 160k iterations, batch 16; test at
# short side 512, slide 512 / 341 (docs/protocols.md).
_base_ = [
    '../_base_/models/repsep_vit-b16.py', '../_base_/datasets/coco-stuff164k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_adamw-lld_160k.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained='data/pretrain/vit_large_patch16_384.augreg_in21k_ft_in1k.pth',
    backbone=dict(
        img_size=crop_size, embed_dims=1024, num_layers=24, num_heads=16, drop_path_rate=0.4),
    decode_head=dict(
        in_channels=1024, channels=1024, embed_dims=1024, num_heads=16, num_classes=171),
    test_cfg={{_base_.slide_test_cfg}})
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
