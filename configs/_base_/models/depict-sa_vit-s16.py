# DEPICT-SA on ViT-S/16: ../backbones/vit-s16.py joined with
# ../decoders/depict-sa.py (docs/configs.md).
_base_ = ['../backbones/vit-s16.py', '../decoders/depict-sa.py']
model = _base_.decoder
