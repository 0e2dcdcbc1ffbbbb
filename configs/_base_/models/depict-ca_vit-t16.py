# DEPICT-CA on ViT-T/16: ../backbones/vit-t16.py joined with
# ../decoders/depict-ca.py (docs/configs.md).
_base_ = ['../backbones/vit-t16.py', '../decoders/depict-ca.py']
model = _base_.decoder
