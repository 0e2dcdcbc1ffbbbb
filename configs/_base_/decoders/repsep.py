# Representation separation (Hong et al., arXiv 2212.13764), our RECONSTRUCTION
# (no official code; see docs/repsep.md): Segmenter's mask transformer extended
# with SASM and DCA (auxiliary branch training-only), all on. It runs on the
# decoupled two-pathway ViT (mmseg's VisionTransformer + a local pathway of
# LSBs): its leaves state the TwoPathwayVisionTransformer backbone type (a
# decoder part sets no backbone type). Widths follow Segmenter's rule (the
# backbone's width and heads).
# Needs from the backbone: the last layer (in_index=-1) after the final LN, with
# a CLS token (the head drops it).
decoder = dict(
    backbone=dict(final_norm=True, with_cls_token=True),
    decode_head=dict(
        type='RepSepHead',
        num_layers=2,
        with_sasm=True,
        with_dca=True,
        dropout_ratio=0.0,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
