# DEPICT-SA on BEiT-B/16 (docs/configs.md): the last layer after the final norm.
_base_ = ['../backbones/beit-b16.py', '../decoders/depict-sa.py']
model = dict(backbone=dict(final_norm=_base_.decoder.backbone.final_norm),
             decode_head=_base_.decoder.decode_head)
