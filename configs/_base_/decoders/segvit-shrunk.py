# SegViT-Shrunk (Zhang et al., NeurIPS 2022, Sec. 3.3): ATM's decoder on a ViT
# with query-based downsampling (QD) after block `shrink_index`, so the later
# blocks run at 1/32; the head reads the last full-resolution block and the last
# block, upsamples with a grid of learnable queries (QU, 3 layers per input) and
# decodes it with a single ATM stage of 3 layers, each supervised.
# Needs from the backbone: the ShrunkVisionTransformer (its `type` is set here
# and nowhere else), two layers (out_indices and shrink_index per depth: the
# model part), no CLS token (the class freezes its unused cls_token itself),
# no final norm.
_base_ = ['./segvit.py']
decoder = dict(
    backbone=dict(type='ShrunkVisionTransformer', frozen_exclude=['all']),
    decode_head=dict(type='ShrunkATMHead', in_index=(0, 1)))
