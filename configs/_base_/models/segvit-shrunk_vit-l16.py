# SegViT-Shrunk on ViT-L/16: ../backbones/vit-l16.py joined with
# ../decoders/segvit-shrunk.py (docs/configs.md).
# QD after block 8 (shrink_index=8), so blocks 9-24 run at 1/32; reads block 8
# (out index 7) and 24; 40x40 query grid (640 / 16); drop-path 0.3. As the
# official Shrunk config (width 512, 16 heads).
# Decoder width: half the backbone's; heads: the backbone's.
_base_ = ['../backbones/vit-l16.py', '../decoders/segvit-shrunk.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=dict(_base_.decoder.backbone, shrink_index=8, out_indices=(7, 23),
                           drop_path_rate=0.3),
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims // 2,
                              num_heads=__vit.num_heads, query_grid=(40, 40)))
