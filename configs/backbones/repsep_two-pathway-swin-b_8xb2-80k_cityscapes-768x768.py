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
    '../_base_/backbones/swin-b.py',
    '../_base_/decoders/repsep.py',
    '../_base_/datasets/cityscapes_768x768.py',
    '../_base_/schedules/schedule_80k.py',
    '../_base_/default_runtime.py'
]
crop_size = (768, 768)
model = dict(
    data_preprocessor=dict(size=crop_size),
    # Swin with the local pathway (LSBs) fused into stages 1-3; Swin has no
    # img_size, CLS token or final norm switch.
    backbone=dict(type='TwoPathwaySwinTransformer', local_channels=64, fuse_indices=(1, 2, 3)),
    # The three fused stages, resized to the first and concatenated (mmseg's
    # resize_concat); decoder width 768 with 12 heads.
    decode_head=dict(_base_.decoder.decode_head, num_classes=19, in_channels=[256, 512, 1024],
                     in_index=(1, 2, 3), input_transform='resize_concat', channels=768,
                     embed_dims=768, num_heads=12),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(512, 512)))
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
