# ADE20K with 640x640 crops (the ViT-L recipes): short side 640 (long side
# <= 2560) for training scales and the single-scale test. Leaves set the slide
# window (640, stride 608). At 640 both the 0.5x (320) and the 0.75x (480)
# multi-scale views of the papers' protocol are upsampled to the window.
# Otherwise as ade20k.py.
#
# Evaluation protocol (docs/protocols.md): the papers'
# (Segmenter / DEPICT): single scale with views smaller than the window
# upsampled to it; multi-scale ratios of the test size, likewise upsampled.
# Another protocol is one test_pipeline / tta_pipeline edit in a leaf (docs/configs.md).
dataset_type = 'ADE20KDataset'
data_root = 'data/ade/ADEChallengeData2016'
crop_size = (640, 640)
train_pipeline = [
    # Checked*: mmcv's / mmseg's loaders whose errors name the broken file.
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations'),
    dict(type='RandomResize', scale=(2560, 640), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, 640), keep_ratio=True),
    dict(type='UpscaleToWindow', window_size=crop_size),
    # Annotations load after resizing: metrics compare at the original size.
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='MultiScaleTTA', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75], ratios_of='test_size',
         scale=(2560, 640), window=crop_size)
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
