# Representation separation (Hong et al., arXiv 2212.13764), our RECONSTRUCTION
# (no official code; see docs/repsep.md): Segmenter's mask transformer extended
# with SASM and DCA (auxiliary branch training-only), all on, on the decoupled
# two-pathway ViT (mmseg's VisionTransformer + a local pathway of LSBs; its
# `type` is set here and nowhere else). The backbone adds no key to mmseg's ViT;
# the local pathway uses its defaults: LSBs after the last layer of each quarter
# of the depth, 256 channels, 3x3 windows.
_base_ = ['./segmenter-mask.py']
decoder = dict(
    backbone=dict(type='TwoPathwayVisionTransformer'),
    decode_head=dict(type='RepSepHead', with_sasm=True, with_dca=True))
