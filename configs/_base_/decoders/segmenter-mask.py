# Segmenter's mask transformer (Strudel et al., ICCV 2021): mmseg's
# SegmenterMaskTransformerHead, reused, not rewritten; SegmenterMaskHead only
# gives its widths Segmenter's defaults (the backbone's width and heads,
# depict/models/decode_heads/widths.py). Decoder dropout 0.1, as the official
# Segmenter configs.
# Needs from the backbone: the last layer (the head's in_index=-1) after the
# final LN, with a CLS token (the head drops it).
decoder = dict(
    backbone=dict(final_norm=True, with_cls_token=True),
    decode_head=dict(
        type='SegmenterMaskHead',
        num_layers=2,
        drop_rate=0.1,
        attn_drop_rate=0.1,
        drop_path_rate=0.0,
        dropout_ratio=0.0,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
