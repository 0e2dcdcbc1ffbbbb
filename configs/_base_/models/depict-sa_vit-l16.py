# DEPICT-SA (Wen & Li, NeurIPS 2024, arXiv 2411.03033) on mmseg's VisionTransformer
# (ViT-L/16). The decoder works at the backbone width (no input projection) and
# reads the last ViT layer after its final LN, CLS token dropped. Defaults are the
# official code's; docs/depict.md maps every argument to the paper.
# Recipe: Segmenter's (AugReg ViT weights, mean = std = 127.5, drop-path 0.1).
backbone_norm_cfg = dict(type='LN', eps=1e-6, requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
# The class embeddings stay out of weight decay (the official no_weight_decay()
# returns {'cls_emb'}); configs pass this to optim_wrapper.paramwise_cfg so that
# a user who raises weight_decay above the recipe's 0 still gets it right.
depict_paramwise_cfg = dict(custom_keys={'cls_emb': dict(decay_mult=0.0)})
model = dict(
    # mmseg's EncoderDecoder; test_cfg.windows_per_batch > 1 batches slide windows.
    type='BatchedSlideEncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained='data/pretrain/vit_large_patch16_384.augreg_in21k_ft_in1k.pth',
    backbone=dict(
        type='VisionTransformer',
        img_size=(640, 640),
        patch_size=16,
        in_channels=3,
        # AugReg ViTs have a patch-embedding bias (mmseg defaults to none).
        patch_bias=True,
        embed_dims=1024,
        num_layers=24,
        num_heads=16,
        drop_path_rate=0.1,
        attn_drop_rate=0.0,
        drop_rate=0.0,
        final_norm=True,
        norm_cfg=backbone_norm_cfg,
        with_cls_token=True,
        interpolate_mode='bicubic',
    ),
    decode_head=dict(
        type='DepictSAHead',
        in_channels=1024,
        num_classes=150,
        num_layers=3,  # L MSSA layers on [Z; E]
        num_heads=3,  # K subspaces
        head_dims=100,  # p (K*p = 300 = 2C on ADE20K; hard-coded in the official code)
        attn_drop_rate=0.0,  # the official config.yml's decoder dropout (Segmenter's: 0.1)
        cls_emb_init_std=0.02,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=(640, 640), stride=(608, 608)),
)
