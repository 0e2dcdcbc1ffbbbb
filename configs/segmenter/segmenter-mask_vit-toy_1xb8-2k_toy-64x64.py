# Segmenter's mask transformer on the toy ViT and the embedded toy dataset.
# The reference toy config: every decoder's toy config shares its dataset,
# schedule and backbone and differs only in its model line (docs/configs.md).
_base_ = [
    '../_base_/models/segmenter-mask_vit-toy.py',
    '../_base_/datasets/toy.py', '../_base_/schedules/schedule_toy.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
