# ViT-T/16: width 192, 12 layers, 3 heads; AugReg weights (IN-21k -> IN-1k, 384),
# converted by tools/model_converters/vit2mmseg.py. Its width is every decode
# head's input width (decode_head.in_channels); heads derive their own widths.
# Outputs layers (6, 8, 12) (SegViT's choice for this depth); a head
# reads what it needs with in_index (one-layer heads: the last, in_index=-1).
_base_ = ['./vit.py']
__width = 192
model = dict(pretrained='data/pretrain/vit_tiny_patch16_384.augreg_in21k_ft_in1k.pth',
             backbone=dict(embed_dims=__width, num_layers=12, out_indices=(5, 7, 11), num_heads=3),
             decode_head=dict(in_channels=__width))
