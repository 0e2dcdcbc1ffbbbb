# DEPICT-SA on ViT-L/16: ../backbones/vit-l16.py joined with
# ../decoders/depict-sa.py (docs/configs.md).
_base_ = ['../backbones/vit-l16.py', '../decoders/depict-sa.py']
model = _base_.decoder
