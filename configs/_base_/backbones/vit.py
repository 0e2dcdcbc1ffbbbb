# The plain ViT part: mmseg's VisionTransformer (as depict's FusedVisionTransformer:
# same weights and keys, attention through fused SDPA) inside depict's segmentor, with
# the settings of the AugReg ViT weights every paper config starts from
# (tools/model_converters): patch-embedding bias, LN eps 1e-6, mean = std = 127.5,
# bicubic position-embedding resizing, drop-path 0.1 (Segmenter / DEPICT; a
# leaf changes it where its paper does). The backbone `type` of every
# plain-ViT config is set here and nowhere else.
#
# Sizes (vit-t16.py ... vit-l16.py, vit-toy.py) add width, depth, heads,
# weights and the layers output, and give every decode head its input width:
# `decode_head.in_channels`. What a decoder needs from the backbone (final
# norm, CLS token) is stated in its decoder part (../decoders/); a leaf joins
# the two (docs/configs.md).
model = dict(
    # mmseg's EncoderDecoder; test_cfg.windows_per_batch > 1 batches slide windows.
    type='BatchedSlideEncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='FusedVisionTransformer',
        img_size=(512, 512),
        patch_size=16,
        in_channels=3,
        # timm / AugReg ViTs have a patch-embedding bias; mmseg 1.x defaults to
        # patch_bias=False and would silently drop it from the pretrained weights.
        patch_bias=True,
        drop_path_rate=0.1,
        attn_drop_rate=0.0,
        drop_rate=0.0,
        norm_cfg=dict(type='LN', eps=1e-6, requires_grad=True),
        interpolate_mode='bicubic'),
    train_cfg=dict(),
    # Leaves set slide inference at their window.
    test_cfg=dict(mode='whole'))
