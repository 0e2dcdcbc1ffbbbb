# EoMT's recipe (tue-mps/eomt, DINOv2 ADE20K 512 semantic: main.py,
# training/lightning_module.py, configs/dinov2/ade20k/semantic/eomt_large_512.yaml):
# AdamW lr 1e-4, weight decay 0.05 on every parameter, layer-wise lr decay 0.8
# (block i of L at 0.8^(L-1-i), embeddings as block 0; queries, head and final norm
# at 1e-4), gradient clipping at norm 0.01; the new parts warm up over 500
# iterations, the ViT then over 1000 more, poly 0.9 decay to 0. Total batch 16
# (4 GPUs x 4), 31 epochs of ADE20K's 20210 images = 31 x 1263 = 39153 iterations.
# Mask annealing (the leaf's EoMTMaskAnnealingHook; runtime hooks are the
# default_runtime's list): block l of the last 4 from 1 to 0 (poly 0.9) between
# 6520 l and 6520 (l+1). The official runs use fp16 mixed precision (Lightning
# '16-mixed'): on GPUs set optim_wrapper.type='AmpOptimWrapper'.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='EoMTOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(decay_rate=0.8, decay_query_blocks=True))
param_scheduler = [
    dict(type='TwoStageWarmupPolyLR', total_iters=39153, warmup_iters=(500, 1000), power=0.9,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=39153, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
