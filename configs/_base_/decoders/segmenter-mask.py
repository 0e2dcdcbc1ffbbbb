# Segmenter's mask transformer (Strudel et al., ICCV 2021): mmseg's
# SegmenterMaskTransformerHead, reused, not rewritten. 2 layers whose width and
# heads are the backbone's (set from the backbone part by
# ../models/segmenter-mask_*.py).
# Needs from the backbone: the last layer (the head's in_index=-1) after the
# final LN, with a CLS token (the head drops it).
decoder = dict(
    backbone=dict(final_norm=True, with_cls_token=True),
    decode_head=dict(
        type='SegmenterMaskTransformerHead',
        num_layers=2,
        dropout_ratio=0.0,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
