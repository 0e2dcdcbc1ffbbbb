# Representation separation (our reconstruction, docs/repsep.md) on the
# masked-pretrained BEiT-L/16, PASCAL Context 60 classes, 480x480.
# Known from the paper (abstract): 68.9 mIoU on PASCAL Context with
# masked-pretrained plain ViTs. NOT known (our choice here): which masked model
# (we take BEiT-L/16, IN-22k pre-training + fine-tuning), whether 59 or 60
# classes, the crop (480, this project's PASCAL Context crop), the schedule
# (80k, AdamW 1e-4 with layer-wise decay 0.95 as BEiT-L's segmentation recipe),
# batch 16, drop-path 0.3, and everything in docs/repsep.md. Not a reproduction.
_base_ = [
    '../repsep/repsep_vit-l16_8xb2-80k_pascal-context-480x480.py',
    '../_base_/models/beit.py'
]
model = dict(
    pretrained='data/pretrain/beit_large_patch16_224_pt22k_ft22k_mmseg.pth',
    data_preprocessor={{_base_.beit_data_preprocessor}},
    backbone=dict(_base_.beit_l16, type='TwoPathwayBEiT', img_size=(480, 480)))
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.95))
