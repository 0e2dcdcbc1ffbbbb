# EoMT's DINOv3 recipe (tue-mps/eomt, configs/dinov3/ade20k/semantic/eomt_large_512.yaml):
# AdamW lr 2e-4, weight decay 0.05 on every parameter, no layer-wise decay
# (llrd 1.0; the config's lr_mult 0.1 only keeps the last 4 blocks out of the
# decay, and with decay 1.0 changes nothing), gradient clipping at norm 0.01; the
# new parts warm up over 2000 iterations, the ViT then over 3000 more, poly 0.9.
# Total batch 16, 16 epochs of ADE20K = 16 x 1263 = 20208 iterations. Mask
# annealing (the leaf's EoMTMaskAnnealingHook) per block of the last 4: starts
# 0, 6520, 9780, 13040; ends 3000, 9780, 13040, 16300. fp16 mixed precision
# officially (AmpOptimWrapper on GPUs).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='EoMTOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(decay_rate=1.0, decay_query_blocks=False))
param_scheduler = [
    dict(type='TwoStageWarmupPolyLR', total_iters=20208, warmup_iters=(2000, 3000), power=0.9,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20208, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
