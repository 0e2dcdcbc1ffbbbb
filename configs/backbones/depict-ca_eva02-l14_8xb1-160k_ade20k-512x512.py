# depict-ca on EVA-02-L/14 (MIM on Merged-38M, fine-tuned IN-22k -> IN-1k),
# ADE20K 512x512: OUR configuration, not a paper's (no published number).
# One-line backbone swap of depict-ca_vit-b16_8xb1-160k_ade20k-512x512.py:
# the decoder, schedule and data are that config's; the head takes the
# ViT-L width. Backbone and weights: docs/backbones.md.
_base_ = [
    '../_base_/models/depict-ca_eva02-l14.py',
    '../_base_/datasets/ade20k.py', '../_base_/schedules/segmenter_160k.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
train_dataloader = dict(batch_size=1)
