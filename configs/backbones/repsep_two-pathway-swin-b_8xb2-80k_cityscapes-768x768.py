# Representation separation (our reconstruction, docs/repsep.md) with the
# two-pathway network on a PYRAMID ViT, Cityscapes 768x768.
# Known from the paper (abstract): pyramid ViTs with the two-pathway network
# beat high-resolution ViTs on Cityscapes. NOT known (our choice here): which
# pyramid ViT (we take Swin-B, window 12, IN-22k at 384, mmseg's weights
# converted with mmseg's swin2mmseg), the head input (the fused 1/8, 1/16, 1/32
# maps resized to 1/8 and concatenated), the widths, and the recipe (AdamW 6e-5,
# wd 0.01, no decay on norms / position tables, 1500 warm-up, poly 1.0, 80k,
# batch 16, drop-path 0.3, as mmseg's Swin recipes). Not a reproduction.
_base_ = [
    '../_base_/models/repsep_vit-b16.py', '../_base_/datasets/cityscapes_768x768.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k.py'
]
crop_size = (768, 768)
model = dict(
    pretrained=None,
    # Swin is pretrained with the ImageNet mean / std.
    data_preprocessor=dict(
        size=crop_size, mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(
        _delete_=True,
        type='TwoPathwaySwinTransformer',
        pretrain_img_size=384,
        embed_dims=128,
        depths=(2, 2, 18, 2),
        num_heads=(4, 8, 16, 32),
        window_size=12,
        drop_path_rate=0.3,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        local_channels=64,
        fuse_indices=(1, 2, 3),
        init_cfg=dict(type='Pretrained',
                      checkpoint='data/pretrain/swin_base_patch4_window12_384_22k_mmseg.pth')),
    decode_head=dict(
        in_channels=[256, 512, 1024],
        in_index=(1, 2, 3),
        input_transform='resize_concat',
        channels=768,
        embed_dims=768,
        num_heads=12,
        num_classes=19),
    test_cfg={{_base_.slide_test_cfg}})
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
        'cls_emb': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=80000)
]
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
