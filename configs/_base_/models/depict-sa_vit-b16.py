# DEPICT-SA on ViT-B/16: ../backbones/vit-b16.py joined with
# ../decoders/depict-sa.py (docs/configs.md).
_base_ = ['../backbones/vit-b16.py', '../decoders/depict-sa.py']
model = _base_.decoder
