# Representation separation (Hong et al., arXiv 2212.13764), our RECONSTRUCTION
# (no official code; see docs/repsep.md): Segmenter's ViT-B/16 model with the
# decoupled two-pathway ViT (mmseg's VisionTransformer + a local pathway of
# LSBs) and Segmenter's mask transformer extended with SASM and DCA (auxiliary
# branch training-only). All three components on. The backbone adds no key to
# Segmenter's, so a config may switch back to a plain VisionTransformer (the
# ablation baseline); the local pathway uses its defaults: LSBs after the last
# layer of each quarter of the depth, 256 channels, 3x3 windows.
_base_ = ['./segmenter_vit-b16_mask.py']
model = dict(
    backbone=dict(type='TwoPathwayVisionTransformer', drop_path_rate=0.3),
    decode_head=dict(type='RepSepHead', with_sasm=True, with_dca=True))
