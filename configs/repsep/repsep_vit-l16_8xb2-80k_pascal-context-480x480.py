# ViT-L/16 on PASCAL Context, 60 classes (background is class 0), 480x480, 80k iterations.
# Representation separation (Hong et al., arXiv 2212.13764), our RECONSTRUCTION
# (no official code; docs/repsep.md): two-pathway ViT + SASM + DCA, all on.
# Recipe (our choice, docs/repsep.md): AdamW lr 1e-4 at the top, layer-wise lr
# decay 0.9, wd 0.05, 1500-iter warm-up, poly 1.0, batch 16 (8 GPUs x 2),
# drop-path 0.4, AugReg ViT (IN-21k -> IN-1k, 384), mean = std = 127.5.
_base_ = [
    '../_base_/models/repsep_vit-b16.py', '../_base_/datasets/pascal_context.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_adamw-lld_80k.py'
]
crop_size = (480, 480)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained='data/pretrain/vit_large_patch16_384.augreg_in21k_ft_in1k.pth',
    backbone=dict(
        img_size=crop_size, embed_dims=1024, num_layers=24, num_heads=16, drop_path_rate=0.4),
    decode_head=dict(
        in_channels=1024, channels=1024, embed_dims=1024, num_heads=16, num_classes=60),
    test_cfg={{_base_.slide_test_cfg}})
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
