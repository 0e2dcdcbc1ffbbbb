# DEPICT-CA (Wen & Li, NeurIPS 2024, arXiv 2411.03033) on mmseg's VisionTransformer
# (ViT-L/16): DEPICT-SA's model with the CA head. L MSSA layers refine the patch
# tokens only, then the class queries go through MSCA layers with their own
# projection. Defaults are the official code's; docs/depict.md maps every
# argument to the paper.
_base_ = ['./depict-sa_vit-l16.py']
model = dict(
    decode_head=dict(
        type='DepictCAHead',
        # num_layers / num_heads / head_dims (L, K, p of the MSSA layers on the
        # patch tokens) as in DEPICT-SA: 3, 3, 100 (hard-coded officially).
        num_cross_layers=3,  # MSCA layers of the class queries (official: 3)
        cross_num_heads=3,  # K of the MSCA layers
        cross_head_dims=50,  # p of the MSCA layers (K*p = 150 = C on ADE20K; official)
    ))
