# The Segmenter recipe (also DEPICT's): SGD lr 1e-3 (Cityscapes configs: 1e-2),
# momentum 0.9, weight decay 0, poly 0.9, 160k iterations. The class embeddings
# `cls_emb` of the Segmenter and DEPICT heads stay out of weight decay (the
# official code's no_weight_decay()), so a user who raises weight_decay above
# the recipe's 0 still gets them right.
_base_ = ['./schedule_160k.py']
optim_wrapper = dict(
    optimizer=dict(lr=0.001, weight_decay=0.0),
    paramwise_cfg=dict(custom_keys={'cls_emb': dict(decay_mult=0.0)}))
