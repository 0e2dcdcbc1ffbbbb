# DEPICT-SA on ViT-T/16: ../backbones/vit-t16.py joined with
# ../decoders/depict-sa.py (docs/configs.md).
_base_ = ['../backbones/vit-t16.py', '../decoders/depict-sa.py']
model = _base_.decoder
