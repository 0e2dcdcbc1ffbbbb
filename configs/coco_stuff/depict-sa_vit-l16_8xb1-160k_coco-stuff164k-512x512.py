# DEPICT-SA on ViT-L/16, COCO-Stuff-164K, 512x512: OUR configuration (DEPICT
# reports no COCO-Stuff number). The ADE20K ViT-L recipe (DEPICT's own) on the
# COCO-Stuff-164K dataset part: 171 classes, 160k iterations, batch 8; test at
# short side 512, slide 512 / 341 (docs/protocols.md).
_base_ = [
    '../_base_/models/depict-sa_vit-l16.py',
    '../_base_/datasets/coco-stuff164k.py', '../_base_/schedules/segmenter_160k.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
train_dataloader = dict(batch_size=1)
