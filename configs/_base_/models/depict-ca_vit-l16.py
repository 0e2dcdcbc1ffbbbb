# DEPICT-CA on ViT-L/16: ../backbones/vit-l16.py joined with
# ../decoders/depict-ca.py (docs/configs.md).
_base_ = ['../backbones/vit-l16.py', '../decoders/depict-ca.py']
model = _base_.decoder
