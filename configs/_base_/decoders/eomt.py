# EoMT (Kerssies et al., CVPR 2025): no decoder. 100 learned queries join the
# patch tokens for the last 4 ViT blocks, with masked attention annealed away in
# training (the schedule's EoMTMaskAnnealingHook); the head reads classes and
# masks out of those blocks (3-layer mask MLP, upscaling to stride 4) and is
# trained with Mask2Former's loss on every block: Hungarian matching, class 2.0
# (no-object 0.1), mask 5.0, dice 5.0 on 12544 uncertainty-sampled points.
# The head keeps the backbone width (no width in it).
# Needs from the backbone: an EoMT encoder (the leaf states EoMTTimmViT or
# EoMTVisionTransformer, and the EoMTEncoderDecoder segmentor that hands the
# readout to it) with its final norm.
decoder = dict(
    backbone=dict(num_queries=100, num_blocks=4, masked_attn=True, final_norm=True),
    decode_head=dict(
        type='EoMTHead',
        align_corners=False,
        loss_decode=dict(
            type='Mask2FormerLoss', class_weight=2.0, mask_weight=5.0, dice_weight=5.0,
            no_object_weight=0.1, num_points=12544, oversample_ratio=3.0,
            importance_sample_ratio=0.75)))
