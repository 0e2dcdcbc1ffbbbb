# SegViT (Zhang et al., NeurIPS 2022): the Attention-to-Mask (ATM) decoder, as
# the official configs: 3 post-norm layers per stage, FFN 4x, dropout 0.1; one
# query per class; loss CE (no-object 0.1) + 20 focal + dice at every stage.
# Width (half the backbone's) and heads (32 wide) follow from the backbone
# width (depict/models/decode_heads/widths.py).
# Needs from the backbone: three layers (the backbone part's out_indices, the
# official choice per depth; deepest first in the head), no CLS token and no
# final norm.
decoder = dict(
    backbone=dict(
        final_norm=False,
        with_cls_token=False,
        # Without CLS token mmseg's ViT still prepends, then drops, cls_token:
        # it never gets a gradient. Freeze exactly that parameter (every name
        # below stays trainable) so DDP runs with find_unused_parameters=False.
        frozen_exclude=['patch_embed', 'pos_embed', 'layers']),
    decode_head=dict(
        type='ATMHead',
        in_index=(0, 1, 2),
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
