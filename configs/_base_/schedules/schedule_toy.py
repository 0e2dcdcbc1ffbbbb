# The toy schedule shared by every toy config: training from scratch, so AdamW
# with a short warm-up rather than a paper's fine-tuning recipe; 2000 iterations.
_base_ = ['./schedule_160k.py']
# Class embeddings / queries (`cls_emb` in Segmenter's and DEPICT's heads) stay
# out of weight decay, as in the official Segmenter and DEPICT code.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(custom_keys={'cls_emb': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=100, end=2000)
]
train_cfg = dict(max_iters=2000, val_interval=1000)
randomness = dict(seed=0)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=2))
