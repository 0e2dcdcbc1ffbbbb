# DEPICT-SA (Wen & Li, NeurIPS 2024, arXiv 2411.03033): L MSSA layers on the
# patch tokens and class embeddings [Z; E]. Works at the backbone width (no
# input projection). Defaults are the official code's; docs/depict.md maps every
# argument to the paper. The class embeddings `cls_emb` stay out of weight
# decay (the Segmenter / DEPICT recipes' paramwise_cfg, ../schedules/).
# Needs from the backbone: the last layer (in_index=-1) after the final LN, with
# a CLS token (the head drops it).
decoder = dict(
    backbone=dict(final_norm=True, with_cls_token=True),
    decode_head=dict(
        type='DepictSAHead',
        num_layers=3,  # L MSSA layers on [Z; E]
        num_heads=3,  # K subspaces
        head_dims=100,  # p (K*p = 300 = 2C on ADE20K; hard-coded in the official code)
        attn_drop_rate=0.1,  # Segmenter's decoder dropout, applied to the attention
        cls_emb_init_std=0.02,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
