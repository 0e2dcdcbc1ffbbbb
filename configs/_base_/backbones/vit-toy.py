# The toy ViT shared by every toy config (4 layers, width 64, 2 heads, patch 8,
# trained from scratch): every toy config has the same backbone, so toy runs
# differ only in the decoder. It keeps its CLS token and final LN and outputs
# layers 1-3 whatever the decoder (a decoder reads what it needs with in_index).
_base_ = ['./vit.py']
__width = 64
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(
        img_size=(64, 64),
        patch_size=8,
        embed_dims=__width,
        num_layers=4,
        num_heads=2,
        mlp_ratio=4,
        out_indices=(1, 2, 3),
        drop_path_rate=0.0,
        final_norm=True,
        with_cls_token=True,
        init_cfg=None),
    decode_head=dict(in_channels=__width))
