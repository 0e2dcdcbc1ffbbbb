# Large timm ViTs with patch 14 as depict `TimmViT` backbones (docs/backbones.md),
# as variables for one-line backbone swaps in decoder configs:
#   model = dict(backbone=dict(_base_.dinov2_l14, out_indices=...), ...)
# `_delete_=True` replaces the base config's mmseg VisionTransformer entirely.
# Weights: timm downloads them (pretrained=True) where there is network access;
# offline, download the Hugging Face hub file elsewhere and set
# `checkpoint_file='data/pretrain/<file>.safetensors'`.
# Crop 512 is padded to 518 = 37 x 14 (bottom/right), so img_size=518 keeps the
# position grid at the size it is used at.
dinov2_l14 = dict(
    _delete_=True,
    type='TimmViT',
    model_name='vit_large_patch14_reg4_dinov2.lvd142m',
    pretrained=True,
    img_size=(518, 518),
    out_indices=(23, ),
    final_norm=True,
    drop_path_rate=0.3)
# DINOv2 normalises with the ImageNet mean / std.
dinov2_data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
eva02_l14 = dict(
    _delete_=True,
    type='TimmViT',
    model_name='eva02_large_patch14_448.mim_m38m_ft_in22k_in1k',
    pretrained=True,
    img_size=(518, 518),
    out_indices=(23, ),
    final_norm=True,
    drop_path_rate=0.3)
# EVA-02 normalises with OpenAI CLIP's mean / std.
eva02_data_preprocessor = dict(
    mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323])
