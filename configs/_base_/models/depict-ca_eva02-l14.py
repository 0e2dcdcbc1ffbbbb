# DEPICT-CA on EVA-02-L/14 (TimmViT, docs/configs.md): the last block after the final norm.
_base_ = ['../backbones/eva02-l14.py', '../decoders/depict-ca.py']
model = dict(backbone=dict(final_norm=_base_.decoder.backbone.final_norm),
             decode_head=_base_.decoder.decode_head)
