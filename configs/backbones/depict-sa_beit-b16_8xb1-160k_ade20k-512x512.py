# DEPICT-SA on BEiT-B/16 (BEiT IN-22k pre-training + IN-22k fine-tuning), ADE20K
# 512x512: OUR configuration, not a paper's (no published number). One-line
# backbone swap (the model line) of depict-sa_vit-b16_8xb1-160k_ade20k-512x512.py (DEPICT reads the
# last layer after a final norm, without CLS). Weights: docs/backbones.md.
_base_ = [
    '../_base_/models/depict-sa_beit-b16.py',
    '../_base_/datasets/ade20k.py', '../_base_/schedules/segmenter_160k.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
train_dataloader = dict(batch_size=1)
