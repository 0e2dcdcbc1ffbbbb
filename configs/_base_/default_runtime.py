# Runtime shared by every config. `custom_imports` registers depict's modules
# (and applies its compatibility layer) for our tools and for mmseg's own:
# mmseg/.mim/tools/train.py, init_model, MMSegInferencer, analysis tools.
default_scope = 'mmseg'
custom_imports = dict(imports=['depict'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo when there is no GPU.
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [
    dict(type='LocalVisBackend'),
    # Records scalars for TensorBoard when the [tools] extra is installed.
    dict(type='TensorboardIfInstalledVisBackend'),
]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
# Which key prefixes may differ when fine-tuning from `load_from` (strict by
# default; see docs/tools.md, "Loading checkpoints").
load_cfg = dict(allow_missing=[], allow_unexpected=[], allow_mismatched=[])
resume = False
tta_model = dict(type='SegTTAModel')
# Fails fast on num_classes / dataset mismatches and out-of-range labels.
custom_hooks = [dict(type='SegDataCheckHook')]
