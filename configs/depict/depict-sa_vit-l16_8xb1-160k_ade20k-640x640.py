# DEPICT-SA, ViT-L/16 on ADE20K at 640x640 (Wen & Li, NeurIPS 2024).
# Targets the paper's ADE20K val result for DEPICT-SA ViT-L/16: 52.9 mIoU ss / 54.3 ms.
# Protocol: ss = short side resized to 640, slide window 640 / stride 608; ms = ratios
# 0.5-1.75 + flip, Segmenter/DEPICT definition (docs/protocols.md).
# Recipe: Segmenter's: SGD lr 1e-3, momentum 0.9, wd 0 (class embeddings excluded from
# decay anyway), poly 0.9, batch 8 (8 GPUs x 1), 160k iterations, drop-path 0.1,
# mean = std = 127.5, AugReg ViT-L (IN-21k -> IN-1k, 384).
# Decoder: L = 3 MSSA layers, K = 3, p = 100, the official code's values (it hard-codes p for
# every dataset and backbone; docs/depict.md explains the choice). All are config arguments.
_base_ = [
    '../_base_/models/depict-sa_vit-l16.py',
    '../_base_/datasets/ade20k_640x640.py', '../_base_/schedules/segmenter_160k.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
train_dataloader = dict(batch_size=1)
