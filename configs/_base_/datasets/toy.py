# The embedded toy dataset (depict/datasets/toy_generator.py): 8 classes,
# ~96x96 procedural scenes in ADE20K's layout (0 = "other", reduced), written to
# data_root on first use. 64x64 crops (leaves: slide window 64, stride 48);
# multi-scale ratios 0.75-1.25.
#
# Evaluation protocol (docs/protocols.md): mmseg's:
# the image resized to the test size; multi-scale ratios of the image as
# loaded (mmseg 1.x), no window upsampling.
dataset_type = 'ToyDataset'
data_root = 'data/toy'
crop_size = (64, 64)
train_pipeline = [
    # Checked*: mmcv's / mmseg's loaders whose errors name the broken file.
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations'),
    dict(type='RandomResize', scale=(128, 96), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 96), keep_ratio=True),
    # Annotations load after resizing: metrics compare at the original size.
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='MultiScaleTTA', ratios=[0.75, 1.0, 1.25], ratios_of='original')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
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
