# ViT-L/16: width 1024, 24 layers, 16 heads; AugReg weights (IN-21k -> IN-1k, 384),
# converted by tools/model_converters/vit2mmseg.py. Its width is every decode
# head's input width (decode_head.in_channels); heads derive their own widths.
# Outputs layers (8, 16, 24) (SegViT's choice for this depth); a head
# reads what it needs with in_index (one-layer heads: the last, in_index=-1).
_base_ = ['./vit.py']
__width = 1024
model = dict(pretrained='data/pretrain/vit_large_patch16_384.augreg_in21k_ft_in1k.pth',
             backbone=dict(embed_dims=__width, num_layers=24, num_heads=16,
                           out_indices=(7, 15, 23)),
             decode_head=dict(in_channels=__width))
