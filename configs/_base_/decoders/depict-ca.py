# DEPICT-CA (Wen & Li, NeurIPS 2024): DEPICT-SA's decoder with the CA head. L
# MSSA layers refine the patch tokens only (num_layers / num_heads / head_dims as
# in DEPICT-SA: 3, 3, 100), then the class queries go through MSCA layers with
# their own projection. Same needs from the backbone as DEPICT-SA.
_base_ = ['./depict-sa.py']
decoder = dict(
    decode_head=dict(
        type='DepictCAHead',
        num_cross_layers=3,  # MSCA layers of the class queries (official: 3)
        cross_num_heads=3,  # K of the MSCA layers
        cross_head_dims=50,  # p of the MSCA layers (K*p = 150 = C on ADE20K; official)
    ))
