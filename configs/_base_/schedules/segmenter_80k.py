# The Segmenter / DEPICT recipe of segmenter_160k.py, 80k iterations.
_base_ = ['./schedule_80k.py']
optim_wrapper = dict(
    optimizer=dict(lr=0.001, weight_decay=0.0),
    paramwise_cfg=dict(custom_keys={'cls_emb': dict(decay_mult=0.0)}))
