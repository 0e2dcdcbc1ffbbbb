# mmseg's BEiT backbones as variables (docs/backbones.md). Weights: the official
# BEiT checkpoints (github.com/microsoft/unilm/tree/master/beit), converted with
#   python -m depict.utils.beit_convert SRC.pth data/pretrain/<name>_mmseg.pth
# (mmseg's beit2mmseg plus fixes). BEiT's relative position bias is built for
# img_size: slide windows must have the crop size (the dataset bases do).
# Normalisation: BEiT uses mean = std = 0.5 (x 255), as mmseg's BEiT configs.
beit_data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])
beit_b16 = dict(
    _delete_=True,
    type='BEiT',
    patch_size=16,
    embed_dims=768,
    num_layers=12,
    num_heads=12,
    mlp_ratio=4,
    qv_bias=True,
    init_values=0.1,
    drop_path_rate=0.1,
    out_indices=(11, ),
    final_norm=True,
    norm_cfg=dict(type='LN', eps=1e-6))
beit_l16 = dict(
    beit_b16, embed_dims=1024, num_layers=24, num_heads=16, init_values=1e-6,
    drop_path_rate=0.3, out_indices=(23, ))
