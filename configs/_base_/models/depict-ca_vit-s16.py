# DEPICT-CA on ViT-S/16: ../backbones/vit-s16.py joined with
# ../decoders/depict-ca.py (docs/configs.md).
_base_ = ['../backbones/vit-s16.py', '../decoders/depict-ca.py']
model = _base_.decoder
