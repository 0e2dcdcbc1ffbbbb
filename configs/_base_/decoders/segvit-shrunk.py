# SegViT-Shrunk (Zhang et al., NeurIPS 2022, Sec. 3.3): ATM's decoder on a ViT
# with query-based downsampling (QD) after block `shrink_index`, so the later
# blocks run at 1/32; the head reads the last full-resolution block and the last
# block, upsamples with a grid of learnable queries (QU, 3 layers per input) and
# decodes it with a single ATM stage of 3 layers, each supervised.
# QD is part of the backbone: Shrunk leaves state
# the ShrunkVisionTransformer backbone type with its shrink_index and the two
# layers read (a decoder part sets no backbone type). Width and heads as ATM's.
# query_grid is the 1/16 grid of the training crop (default 40x40: 640 crops).
decoder = dict(
    backbone=dict(
        final_norm=False,
        with_cls_token=False,
        # ShrunkVisionTransformer freezes its unused cls_token itself.
        frozen_exclude=['all']),
    decode_head=dict(
        type='ShrunkATMHead',
        in_index=(0, 1),
        num_layers=3,
        ffn_ratio=4,
        dropout=0.1,
        attn_drop=0.1,
        # ss / ms treatment of the scores: docs/segvit.md, "Single- and multi-scale".
        scores='prob',
        align_corners=False,
        loss_decode=dict(
            type='ATMLoss', cls_weight=1.0, mask_weight=20.0, dice_weight=1.0,
            no_object_weight=0.1, focal_alpha=0.25, focal_gamma=2.0)))
