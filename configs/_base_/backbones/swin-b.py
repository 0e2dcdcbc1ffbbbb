# Swin-B (window 12, IN-22k at 384; mmseg's weights converted with mmseg's
# swin2mmseg) inside depict's segmentor; replaces vit.py's mmseg ViT
# (`_delete_`). ImageNet mean / std. Four stages of widths 128, 256, 512, 1024;
# its leaves choose the stages a decoder reads. Swin has no img_size: a
# leaf takes only the preprocessor, classes and window from its dataset part.
_base_ = ['./vit.py']
model = dict(
    pretrained=None,
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        pretrain_img_size=384,
        embed_dims=128,
        depths=(2, 2, 18, 2),
        num_heads=(4, 8, 16, 32),
        window_size=12,
        drop_path_rate=0.3,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained',
                      checkpoint='data/pretrain/swin_base_patch4_window12_384_22k_mmseg.pth')))
