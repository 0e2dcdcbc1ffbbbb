# The Segmenter recipe (also DEPICT's): SGD lr 1e-3 (Cityscapes leaves: 1e-2),
# momentum 0.9, weight decay 0, poly 0.9, 80k iterations. The class embeddings
# `cls_emb` of the Segmenter and DEPICT heads stay out of weight decay (the
# official code's no_weight_decay()), so a user who raises weight_decay above
# the recipe's 0 still gets them right.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.0),
    paramwise_cfg=dict(custom_keys={'cls_emb': dict(decay_mult=0.0)}),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=80000, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
