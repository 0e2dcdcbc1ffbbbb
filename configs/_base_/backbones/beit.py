# The BEiT part: mmseg's BEiT inside depict's segmentor; replaces vit.py's mmseg
# ViT (`_delete_`), keeps its preprocessor (BEiT normalises with mean = std =
# 0.5 x 255, as mmseg's BEiT configs). Weights: the official BEiT checkpoints
# (github.com/microsoft/unilm/tree/master/beit) converted with
#   python tools/model_converters/beit2mmseg.py SRC.pth data/pretrain/<name>_mmseg.pth
# (docs/backbones.md). BEiT's relative position bias is built for img_size (the
# dataset part's crop): slide windows have the crop size. BEiT takes no
# `with_cls_token` / `frozen_exclude`: its leaves pass a decoder only
# `final_norm` and the layers it reads. Sizes: beit-b16.py, beit-l16.py.
_base_ = ['./vit.py']
model = dict(
    backbone=dict(_delete_=True, type='BEiT', patch_size=16, mlp_ratio=4, qv_bias=True,
                  final_norm=True, norm_cfg=dict(type='LN', eps=1e-6)))
