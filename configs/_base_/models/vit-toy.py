# The toy ViT shared by every toy config, as variables: a toy config takes a
# decoder's model part and swaps in `toy_backbone`, `toy_width` and friends
# (`backbone={{_base_.toy_backbone}}`), so decoders differ only in the head.
toy_width = 64
toy_heads = 2
toy_num_classes = 8
toy_backbone = dict(
    type='VisionTransformer',
    img_size=(64, 64),
    patch_size=8,
    in_channels=3,
    # Explicit, so that every toy config has the same backbone whichever base
    # model it merges into (the real configs need patch_bias=True for AugReg).
    patch_bias=True,
    embed_dims=64,
    num_layers=4,
    num_heads=2,
    mlp_ratio=4,
    out_indices=(1, 2, 3),
    drop_path_rate=0.0,
    final_norm=True,
    norm_cfg=dict(type='LN', eps=1e-6, requires_grad=True),
    with_cls_token=True,
    interpolate_mode='bicubic',
    init_cfg=None)
toy_data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(64, 64))
