# The timm ViT part: depict's TimmViT (any plain timm ViT, docs/backbones.md)
# inside depict's segmentor; replaces vit.py's mmseg ViT (`_delete_`). timm
# loads the weights itself (pretrained=True downloads them; offline, set
# `backbone.checkpoint_file='data/pretrain/<file>.safetensors'`). Inputs are
# padded up to the patch multiple (512 -> 518 at patch 14) and img_size (the
# dataset part's crop) is rounded up the same way. TimmViT returns patch-token
# maps only (no CLS token) and takes no `with_cls_token` / `frozen_exclude`:
# its leaves pass a decoder only `final_norm` (docs/configs.md).
# Sizes (dinov2-l14.py, dinov3-l16.py, eva02-l14.py) add the timm model name, weights'
# normalisation and `decode_head.in_channels`.
_base_ = ['./vit.py']
model = dict(
    pretrained=None,
    backbone=dict(_delete_=True, type='TimmViT', pretrained=True, final_norm=True,
                  drop_path_rate=0.3))
