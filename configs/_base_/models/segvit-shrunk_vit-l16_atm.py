# SegViT-Shrunk (Zhang et al., NeurIPS 2022, Sec. 3.3) on ViT-L/16: query-based
# downsampling (QD) at block 9 (shrink_index=8, 0-based: after block 8), so
# blocks 9-24 run at 1/32; the head reads block 8 (1/16, out index 7) and block
# 24 (1/32), upsamples with a 40x40 (640 / 16) grid of learnable queries (QU,
# 3 layers per input) and decodes it with a single ATM stage of 3 layers, each
# supervised. Width 512, 16 heads, as the official Shrunk config.
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
        type='ShrunkVisionTransformer',
        shrink_index=8,
        img_size=(640, 640),
        patch_size=16,
        in_channels=3,
        # AugReg ViTs have a patch-embedding bias (mmseg defaults to none).
        patch_bias=True,
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        mlp_ratio=4,
        out_indices=(7, 23),
        drop_path_rate=0.3,
        attn_drop_rate=0.0,
        drop_rate=0.0,
        final_norm=False,
        norm_cfg=dict(type='LN', eps=1e-6, requires_grad=True),
        # The class freezes its unused cls_token itself when there is no CLS token.
        with_cls_token=False,
        interpolate_mode='bicubic'),
    decode_head=dict(
        type='ShrunkATMHead',
        in_channels=1024,
        channels=512,
        num_classes=150,
        in_index=(0, 1),
        num_layers=3,
        num_heads=16,
        ffn_ratio=4,
        query_grid=(40, 40),
        dropout=0.1,
        attn_drop=0.1,
        scores='prob',
        align_corners=False,
        loss_decode=dict(
            type='ATMLoss', cls_weight=1.0, mask_weight=20.0, dice_weight=1.0,
            no_object_weight=0.1, focal_alpha=0.25, focal_gamma=2.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(640, 640), stride=(608, 608)),
)
