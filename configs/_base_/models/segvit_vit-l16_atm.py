# SegViT (Zhang et al., NeurIPS 2022): the Attention-to-Mask decoder on a plain
# ViT-L/16, as the official ADE20K config: ViT without CLS token and without
# final norm, reading blocks 8, 16, 24 (out_indices 7, 15, 23), deepest first;
# decoder width 512 (= 1024 / 2), 16 heads, 3 post-norm layers per stage, FFN
# 2048, dropout 0.1; one query per class; loss CE (no-object 0.1) + 20 focal +
# dice at every stage; mean = std = 127.5 (AugReg "jax" ViT weights).
backbone_norm_cfg = dict(type='LN', eps=1e-6, requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    # mmseg's EncoderDecoder; test_cfg.windows_per_batch > 1 batches slide windows.
    type='BatchedSlideEncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained='data/pretrain/vit_large_patch16_384.augreg_in21k_ft_in1k.pth',
    backbone=dict(
        type='VisionTransformer',
        img_size=(640, 640),
        patch_size=16,
        in_channels=3,
        # AugReg ViTs have a patch-embedding bias (mmseg defaults to none).
        patch_bias=True,
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        mlp_ratio=4,
        out_indices=(7, 15, 23),
        drop_path_rate=0.3,
        attn_drop_rate=0.0,
        drop_rate=0.0,
        final_norm=False,
        norm_cfg=backbone_norm_cfg,
        with_cls_token=False,
        interpolate_mode='bicubic',
        # Without CLS token mmseg's ViT still prepends, then drops, cls_token:
        # it never gets a gradient. Freeze exactly that parameter (every name
        # below stays trainable) so DDP runs with find_unused_parameters=False.
        frozen_exclude=['patch_embed', 'pos_embed', 'layers'],
    ),
    decode_head=dict(
        type='ATMHead',
        in_channels=1024,
        channels=512,
        num_classes=150,
        in_index=(0, 1, 2),
        num_layers=3,
        num_heads=16,
        ffn_ratio=4,
        dropout=0.1,
        attn_drop=0.1,
        # ss / ms treatment of the scores: docs/segvit.md, "Single- and multi-scale".
        scores='prob',
        align_corners=False,
        loss_decode=dict(
            type='ATMLoss', cls_weight=1.0, mask_weight=20.0, dice_weight=1.0,
            no_object_weight=0.1, focal_alpha=0.25, focal_gamma=2.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(640, 640), stride=(608, 608)),
)
