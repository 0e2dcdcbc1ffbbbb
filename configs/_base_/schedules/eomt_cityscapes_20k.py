# EoMT's Cityscapes recipe (tue-mps/eomt, configs/dinov2/cityscapes/semantic/
# eomt_large_1024.yaml): as eomt_ade20k_39k.py (AdamW 1e-4, wd 0.05 on every
# parameter, layer decay 0.8, clipping 0.01, warm-ups 500 / 1000, poly 0.9) over
# 107 epochs of Cityscapes' 2975 images at total batch 16 = 107 x 185 = 19795
# iterations. Mask annealing (the leaf's EoMTMaskAnnealingHook): block l of the
# last 4 between 3317 l and 3317 (l+1). fp16 mixed precision officially
# (AmpOptimWrapper on GPUs).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='EoMTOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(decay_rate=0.8, decay_query_blocks=True))
param_scheduler = [
    dict(type='TwoStageWarmupPolyLR', total_iters=19795, warmup_iters=(500, 1000), power=0.9,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=19795, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
