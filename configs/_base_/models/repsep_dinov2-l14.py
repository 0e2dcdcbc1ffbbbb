# Representation separation's head (SASM + DCA) on DINOv2-L/14 (TimmViT, docs/configs.md).
# TimmViT has no local pathway: the decoder part's two-pathway type is not taken.
_base_ = ['../backbones/dinov2-l14.py', '../decoders/repsep.py']
__width = _base_.model.decode_head.in_channels  # the backbone part's width; 16 heads
model = dict(backbone=dict(final_norm=_base_.decoder.backbone.final_norm),
             decode_head=dict(_base_.decoder.decode_head, channels=__width, embed_dims=__width,
                              num_heads=16))
