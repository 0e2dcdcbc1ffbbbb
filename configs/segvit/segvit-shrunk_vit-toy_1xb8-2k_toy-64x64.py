# SegViT-Shrunk (QD backbone, QU + single-stage ATM head) on the toy ViT and the
# embedded toy dataset: the same dataset, schedule, runtime and backbone weights
# layout as the Segmenter toy config; only the decoder (and QD) differ.
# No published number (a sanity / comparison task).
_base_ = [
    '../_base_/models/segvit-shrunk_vit-toy.py',
    '../_base_/datasets/toy.py', '../_base_/schedules/schedule_toy.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
