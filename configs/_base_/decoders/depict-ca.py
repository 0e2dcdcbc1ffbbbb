# DEPICT-CA (Wen & Li, NeurIPS 2024, arXiv 2411.03033): L MSSA layers on the
# patch tokens only, then the class queries attend to them through MSCA layers
# with their own projection. Works at the backbone width (no input
# projection). Defaults are the official code's; docs/depict.md maps every
# argument to the paper. The class embeddings `cls_emb` stay out of weight
# decay (the Segmenter / DEPICT recipes' paramwise_cfg, ../schedules/).
# Needs from the backbone: the last layer (in_index=-1) after the final LN, with
# a CLS token (the head drops it).
decoder = dict(
    backbone=dict(final_norm=True, with_cls_token=True),
    decode_head=dict(
        type='DepictCAHead',
        num_layers=3,  # L MSSA layers on the patch tokens
        num_heads=3,  # K subspaces
        head_dims=100,  # p (K*p = 300 = 2C on ADE20K; hard-coded in the official code)
        num_cross_layers=3,  # MSCA layers of the class queries (official: 3)
        cross_num_heads=3,  # K of the MSCA layers
        cross_head_dims=50,  # p of the MSCA layers (K*p = 150 = C on ADE20K; official)
        attn_drop_rate=0.0,  # DEPICT's config.yml: dropout 0.0 (on the attention)
        cls_emb_init_std=0.02,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
