# DEPICT-SA, ViT-L/16 on Cityscapes at 768x768 (Wen & Li, NeurIPS 2024).
# Targets the paper's Cityscapes val result for DEPICT-SA ViT-L/16: 78.8 mIoU ss / 81.0 ms.
# Protocol: ss = full 1024x2048 image, slide window 768 / stride 512; ms = ratios
# 0.5-1.75 + flip, Segmenter/DEPICT definition (docs/protocols.md).
# Recipe: Segmenter's: SGD lr 1e-2 (Cityscapes), momentum 0.9, wd 0 (class embeddings excluded from
# decay anyway), poly 0.9, batch 8 (8 GPUs x 1), 80k iterations, drop-path 0.1,
# mean = std = 127.5, AugReg ViT-L (IN-21k -> IN-1k, 384).
# Decoder: L = 3 MSSA layers, K = 3, p = 100, the official code's values (it hard-codes p for
# every dataset and backbone; docs/depict.md explains the choice). All are config arguments.
_base_ = [
    '../_base_/models/depict-sa_vit-l16.py', '../_base_/datasets/cityscapes_768x768.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k.py'
]
crop_size = (768, 768)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained='data/pretrain/vit_large_patch16_384.augreg_in21k_ft_in1k.pth',
    backbone=dict(img_size=crop_size),
    decode_head=dict(in_channels=1024, num_classes=19),
    test_cfg={{_base_.slide_test_cfg}})
optim_wrapper = dict(
    optimizer=dict(lr=0.01, weight_decay=0.0),
    paramwise_cfg={{_base_.depict_paramwise_cfg}})
train_dataloader = dict(batch_size=1)
val_dataloader = dict(batch_size=1)
