# DEPICT-CA on ViT-B/16: ../backbones/vit-b16.py joined with
# ../decoders/depict-ca.py (docs/configs.md).
_base_ = ['../backbones/vit-b16.py', '../decoders/depict-ca.py']
model = _base_.decoder
