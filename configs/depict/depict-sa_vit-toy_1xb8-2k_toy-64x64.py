# DEPICT-SA on the toy ViT and the embedded toy dataset: no published number; the
# same-seed toy comparison with the Segmenter toy config (same dataset,
# schedule and backbone; only the model part differs). The head uses the toy width
# and K = 2, p = 32 (K*p = d = 64), the official 3 layers.
# cls_emb is kept out of weight decay by the shared toy schedule (AdamW, wd 0.01).
_base_ = [
    '../_base_/models/depict-sa_vit-toy.py',
    '../_base_/datasets/toy.py', '../_base_/schedules/schedule_toy.py',
    '../_base_/default_runtime.py'
]
model = _base_.protocols.model
