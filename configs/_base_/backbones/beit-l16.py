# BEiT-L/16 (IN-22k pre-training + IN-22k fine-tuning): width 1024, 24 layers, 16
# heads, layer scale 1e-6, drop-path 0.3. Docs: docs/backbones.md.
_base_ = ['./beit.py']
__width = 1024
model = dict(pretrained='data/pretrain/beit_large_patch16_224_pt22k_ft22k_mmseg.pth',
             backbone=dict(embed_dims=__width, num_layers=24, num_heads=16, init_values=1e-6,
                           drop_path_rate=0.3, out_indices=(7, 15, 23)),
             decode_head=dict(in_channels=__width))
