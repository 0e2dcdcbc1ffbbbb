# BEiT-B/16 (IN-22k pre-training + IN-22k fine-tuning): width 768, 12 layers, 12
# heads, layer scale 0.1, drop-path 0.1. Docs: docs/backbones.md.
_base_ = ['./beit.py']
__width = 768
model = dict(pretrained='data/pretrain/beit_base_patch16_224_pt22k_ft22k_mmseg.pth',
             backbone=dict(embed_dims=__width, num_layers=12, num_heads=12, init_values=0.1,
                           drop_path_rate=0.1, out_indices=(5, 7, 11)),
             decode_head=dict(in_channels=__width))
