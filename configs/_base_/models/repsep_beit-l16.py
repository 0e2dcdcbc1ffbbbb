# Representation separation (reconstruction) on the two-pathway BEiT-L/16
# (TwoPathwayBEiT: BEiT + the local pathway of LSBs, docs/backbones.md).
# Decoder width and heads: the backbone's.
_base_ = ['../backbones/beit-l16.py', '../decoders/repsep.py']
__vit = _base_.model.backbone  # the backbone part's width and heads
model = dict(backbone=dict(type='TwoPathwayBEiT', final_norm=_base_.decoder.backbone.final_norm),
             decode_head=dict(_base_.decoder.decode_head, channels=__vit.embed_dims,
                              embed_dims=__vit.embed_dims, num_heads=__vit.num_heads))
