# SegViT ATM on DINOv2-L/14 with 4 registers (LVD-142M),
# ADE20K 512x512: OUR configuration, not a paper's (no published number).
# One-line backbone swap of segvit_vit-b16_8xb2-160k_ade20k-512x512.py:
# the decoder, schedule and data are that config's; the head takes the
# ViT-L width. Backbone and weights: docs/backbones.md.
_base_ = [
    '../_base_/models/segvit_dinov2-l14.py',
    '../_base_/datasets/ade20k.py', '../_base_/schedules/segvit_160k.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
# The official ViT-B config's stride (configs/_base_/models/seg_vit-b16.py).
model['test_cfg'] = dict(model['test_cfg'], stride=(341, 341))
train_dataloader = dict(batch_size=2)
# SegViT's protocol: mmseg's single-scale view, mmseg 0.x multi-scale views.
val_dataloader = dict(dataset=dict(pipeline=_base_.protocols.test_mmseg))
test_dataloader = val_dataloader
tta_pipeline = _base_.protocols.tta_mmseg0x
