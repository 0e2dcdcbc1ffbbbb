# Representation separation (reconstruction) on the two-pathway Swin-B
# (TwoPathwaySwinTransformer: an LSB per stage, fused into stages 2-4 with 64
# local channels, docs/backbones.md). The head reads the fused 1/8, 1/16, 1/32
# maps resized to 1/8 and concatenated; width 768, 12 heads (our choice).
_base_ = ['../backbones/swin-b.py', '../decoders/repsep.py']
model = dict(backbone=dict(type='TwoPathwaySwinTransformer', local_channels=64,
                           fuse_indices=(1, 2, 3)),
             decode_head=dict(_base_.decoder.decode_head, in_channels=[256, 512, 1024],
                              in_index=(1, 2, 3), input_transform='resize_concat', channels=768,
                              embed_dims=768, num_heads=12))
