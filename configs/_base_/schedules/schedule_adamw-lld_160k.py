# AdamW with layer-wise lr decay, 160k iterations: the plain-ViT fine-tuning
# recipe of BEiT / ViT-Adapter (linear warm-up 1500 iterations, poly power 1.0).
# lr is the top rate (decode head, new backbone modules, final norm); ViT layer
# i gets lr * decay_rate ** (num_layers + 1 - i) (patch/pos embeddings: i = 0).
# No weight decay on norms, biases, position embeddings, CLS token and class
# embeddings (depict/engine/optimizers.py: mmseg's own layer-decay constructor
# does not accept VisionTransformer backbones).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='ViTLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(decay_rate=0.9),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=1500, end=160000)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
