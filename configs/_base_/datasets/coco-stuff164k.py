# COCO-Stuff: 171 classes, 512x512 crops, test size short side 512 (long side
# <= 2048), as mmseg's and SegViT's bases; leaves: slide window 512 / stride 341
# (SegViT's COCO-Stuff-10K window; our choice for 164K, which no paper here
# reports). Preparation: python tools/dataset_converters/coco_stuff.py {10k,164k}
# <data_root> (docs/datasets.md).
# 164K writes 0..170, 255 = unlabeled.
#
# Evaluation protocol (docs/protocols.md): the papers'
# (Segmenter / DEPICT): single scale with views smaller than the window
# upsampled to it; multi-scale ratios of the test size, likewise upsampled.
# Another protocol is one test_pipeline / tta_pipeline edit in a leaf (docs/configs.md).
dataset_type = 'COCOStuffDataset'
data_root = 'data/coco_stuff164k'
crop_size = (512, 512)
train_pipeline = [
    # Checked*: mmcv's / mmseg's loaders whose errors name the broken file.
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='UpscaleToWindow', window_size=crop_size),
    # Annotations load after resizing: metrics compare at the original size.
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='MultiScaleTTA', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75], ratios_of='test_size',
         scale=(2048, 512), window=crop_size)
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        reduce_zero_label=False,
        data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        reduce_zero_label=False,
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
