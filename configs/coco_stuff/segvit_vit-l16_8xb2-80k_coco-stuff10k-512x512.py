# SegViT (ATM) on ViT-L/16, COCO-Stuff-10K, 512x512, 80k iterations: the official
# recipe (zbwxp/SegVit configs/segvit/segvit_vit-l_jax_512x512_80k_cocostuff10k.py;
# paper / README: 49.9 mIoU single scale, 50.3 multi-scale). As there: AugReg
# ViT-L/16 (mean = std = 127.5), blocks 8, 16, 24, drop-path 0.3, 171 classes,
# AdamW 2e-5 (head x10, no decay on norms), weight decay 0.02, 1500-iteration
# linear warm-up, poly power 2.0, grad clip 35, 2 images per GPU, test at short
# side 512 with views at least 512 (min_size=512), slide 512 / stride 341.
# Our assumption: 8 GPUs (the official config does not say how many).
_base_ = [
    '../_base_/backbones/vit-l16.py',
    '../_base_/decoders/segvit.py',
    '../_base_/datasets/coco-stuff10k.py',
    '../_base_/schedules/segvit_80k.py',
    '../_base_/default_runtime.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _base_.decoder.backbone,
        img_size=crop_size,
        drop_path_rate=0.3,  # SegViT's ViT-L recipe
    ),
    decode_head=dict(_base_.decoder.decode_head, num_classes=171),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
train_dataloader = dict(batch_size=2)
optim_wrapper = dict(optimizer=dict(weight_decay=0.02))
# SegViT's warm-up; COCO-Stuff-10K's poly power 2.
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=2.0, eta_min=0.0, by_epoch=False, begin=1500, end=80000)
]
