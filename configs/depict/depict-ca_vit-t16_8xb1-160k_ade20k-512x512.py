# DEPICT-CA, ViT-T/16 on ADE20K at 512x512 (Wen & Li, NeurIPS 2024).
# Published number: none transcribed for this setting (the spec notes only the ViT-L
# DEPICT-SA results); compare with the same-backbone Segmenter config.
# Protocol: ss = short side resized to 512, slide window 512 / stride 480; ms = ratios
# 0.5-1.75 + flip, Segmenter/DEPICT definition (docs/protocols.md).
# Recipe: Segmenter's: SGD lr 1e-3, momentum 0.9, wd 0 (class embeddings excluded from
# decay anyway), poly 0.9, batch 8 (8 GPUs x 1), 160k iterations, drop-path 0.1,
# mean = std = 127.5, AugReg ViT-T (IN-21k -> IN-1k, 384).
# Decoder: L = 3 MSSA layers (K = 3, p = 100) + 3 MSCA layers (K = 3, p = 50), the official
# code's values (it hard-codes p for every dataset and backbone; docs/depict.md). Config arguments.
_base_ = [
    '../_base_/models/depict-ca_vit-l16.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_160k.py'
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained='data/pretrain/vit_tiny_patch16_384.augreg_in21k_ft_in1k.pth',
    backbone=dict(img_size=crop_size, embed_dims=192, num_layers=12, num_heads=3),
    decode_head=dict(in_channels=192, num_classes=150),
    test_cfg={{_base_.slide_test_cfg}})
optim_wrapper = dict(
    optimizer=dict(lr=0.001, weight_decay=0.0),
    paramwise_cfg={{_base_.depict_paramwise_cfg}})
train_dataloader = dict(batch_size=1)
val_dataloader = dict(batch_size=1)
