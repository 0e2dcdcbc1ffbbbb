# Cityscapes (gtFine), 19 train classes from *_gtFine_labelTrainIds.png (255 =
# ignore), which tools/dataset_converters/cityscapes.py writes from the official
# *_gtFine_labelIds.png; check: tools/misc/check_dataset.py. The full 2048x1024
# frame is the training scale and the test size. Frames all have the test size,
# so the mmseg 1.x and 0.x multi-scale views coincide.
# Our IoUMetric mIoU equals the official cityscapesscripts class mIoU
# (tests/test_evaluation/test_cityscapes_official.py); add
# dict(type='CityscapesOfficialMetric') to the evaluators for the official
# iIoU and category scores.
# The papers' 768x768 crops (leaves: slide window 768, stride 512).
#
# Evaluation protocol (docs/protocols.md): the papers'
# (Segmenter / DEPICT): single scale with views smaller than the window
# upsampled to it; multi-scale ratios of the test size, likewise upsampled.
# Another protocol is one test_pipeline / tta_pipeline edit in a leaf (docs/configs.md).
dataset_type = 'CityscapesDataset'
data_root = 'data/cityscapes/'
crop_size = (768, 768)
train_pipeline = [
    # Checked*: mmcv's / mmseg's loaders whose errors name the broken file.
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='UpscaleToWindow', window_size=crop_size),
    # Annotations load after resizing: metrics compare at the original size.
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='MultiScaleTTA', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75], ratios_of='test_size',
         scale=(2048, 1024), window=crop_size)
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
