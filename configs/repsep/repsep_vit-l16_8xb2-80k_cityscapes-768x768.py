# ViT-L/16 on Cityscapes (19 classes) at 768x768, 80k iterations.
# Representation separation (Hong et al., arXiv 2212.13764), our RECONSTRUCTION
# (no official code; docs/repsep.md): two-pathway ViT + SASM + DCA, all on.
# Recipe (our choice, docs/repsep.md): AdamW lr 1e-4 at the top, layer-wise lr
# decay 0.9, wd 0.05, 1500-iter warm-up, poly 1.0, batch 16 (8 GPUs x 2),
# drop-path 0.4, AugReg ViT (IN-21k -> IN-1k, 384), mean = std = 127.5.
_base_ = [
    '../_base_/backbones/vit-l16.py',
    '../_base_/decoders/repsep.py',
    '../_base_/datasets/cityscapes_768x768.py',
    '../_base_/schedules/schedule_adamw-lld_80k.py',
    '../_base_/default_runtime.py'
]
crop_size = (768, 768)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _base_.decoder.backbone,
        img_size=crop_size,
        type='TwoPathwayVisionTransformer',  # + the local pathway (LSBs)
        drop_path_rate=0.4,
    ),
    decode_head=dict(_base_.decoder.decode_head, num_classes=19),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(512, 512)))
