# PASCAL Context, 59 classes (background ignored: PascalContextDataset59 reduces
# the zero label). Otherwise as pascal_context.py: crop 480 (leaves: slide
# window 480, stride 320), the papers' short side 520.
# mmseg's own PASCAL Context config (and SegViT's training) caps the LONG side
# at 520 instead: Resize scale (520, 520) in test_pipeline, RandomResize scale
# (520, 520) in train_pipeline (docs/protocols.md, "PASCAL Context scales").
#
# Evaluation protocol (docs/protocols.md): the papers'
# (Segmenter / DEPICT): single scale with views smaller than the window
# upsampled to it; multi-scale ratios of the test size, likewise upsampled.
# Another protocol is one test_pipeline / tta_pipeline edit in a leaf (docs/configs.md).
dataset_type = 'PascalContextDataset59'
data_root = 'data/VOCdevkit/VOC2010/'
crop_size = (480, 480)
train_pipeline = [
    # Checked*: mmcv's / mmseg's loaders whose errors name the broken file.
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations'),
    dict(type='RandomResize', scale=(4160, 520), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(4160, 520), keep_ratio=True),
    dict(type='UpscaleToWindow', window_size=crop_size),
    # Annotations load after resizing: metrics compare at the original size.
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='MultiScaleTTA', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75], ratios_of='test_size',
         scale=(4160, 520), window=crop_size)
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/SegmentationContext/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/SegmentationContext/val.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
