# EVA-02-L/14 (MIM on Merged-38M, fine-tuned IN-22k -> IN-1k at 448; timm
# eva02_large_patch14_448): width 1024, 24 blocks, 16 heads, RoPE; OpenAI CLIP's
# mean / std. Docs: docs/backbones.md.
_base_ = ['./timm-vit.py']
model = dict(data_preprocessor=dict(mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323]),
             backbone=dict(model_name='eva02_large_patch14_448.mim_m38m_ft_in22k_in1k',
                           out_indices=(7, 15, 23)),
             decode_head=dict(in_channels=1024))
