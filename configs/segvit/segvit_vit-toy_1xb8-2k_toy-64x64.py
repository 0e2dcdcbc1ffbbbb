# SegViT's ATM decoder on the toy ViT and the embedded toy dataset: the same
# dataset, schedule, runtime and backbone as the Segmenter toy config
# (configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py); only the
# decoder differs. No published number (a sanity / comparison task).
_base_ = [
    '../_base_/models/segvit_vit-toy.py',
    '../_base_/datasets/toy.py', '../_base_/schedules/schedule_toy.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
