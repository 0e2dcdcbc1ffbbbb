# COCO-Stuff-10K (cocostuff-10k-v1.1.zip): 171 classes, 9000 train / 1000 test
# images (the test split is the benchmark's evaluation split). Preparation:
# python tools/dataset_converters/coco_stuff.py 10k data/coco_stuff10k (writes
# 0 = unlabeled, 1..171, hence reduce_zero_label=True); check:
# tools/misc/check_dataset.py. As mmseg's and SegViT's COCO-Stuff-10K bases:
# 512x512 crops, short side 512 (x [0.5, 2] for training).
dataset_type = 'COCOStuffDataset'
data_root = 'data/coco_stuff10k'
crop_size = (512, 512)
# Single-scale test size (w, h): short side 512, long side at most 2048 (mmseg).
test_scale = (2048, 512)
# Sliding-window inference: SegViT's COCO-Stuff-10K window and stride (512 / 341).
slide_test_cfg = dict(mode='slide', crop_size=(512, 512), stride=(341, 341))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]

# ---- Evaluation protocols (docs/protocols.md) ---------------------------------
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
window = slide_test_cfg['crop_size']
flip_aug = [
    dict(type='RandomFlip', prob=0., direction='horizontal'),
    dict(type='RandomFlip', prob=1., direction='horizontal')
]
# Single scale, mmseg: the image resized to the test size.
test_pipeline_mmseg = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
# Single scale, papers (SegViT's `min_size=512`, Segmenter / DEPICT): the same,
# then a view smaller than the window upsampled to cover it.
test_pipeline_paper = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='UpscaleToWindow', window_size=window),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
# Multi-scale, mmseg 1.x: ratios of the ORIGINAL image.
tta_pipeline_mmseg = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
            flip_aug,
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')],
        ])
]
# Multi-scale, mmseg 0.x: ratios of the single-scale test size.
tta_pipeline_mmseg0x = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', keep_ratio=True,
                     scale=(int(test_scale[0] * r), int(test_scale[1] * r)))
                for r in img_ratios
            ],
            flip_aug,
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')],
        ])
]
# Multi-scale, papers (SegViT's min_size=512 views, Segmenter / DEPICT): ratios of
# the test size, views smaller than the window upsampled to it.
tta_pipeline_paper = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', keep_ratio=True,
                     scale=(int(test_scale[0] * r), int(test_scale[1] * r)))
                for r in img_ratios
            ],
            [dict(type='UpscaleToWindow', window_size=window)],
            flip_aug,
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')],
        ])
]
test_pipeline = test_pipeline_paper
tta_pipeline = tta_pipeline_paper

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        reduce_zero_label=True,
        data_prefix=dict(img_path='images/train2014', seg_map_path='annotations/train2014'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        reduce_zero_label=True,
        data_prefix=dict(img_path='images/test2014', seg_map_path='annotations/test2014'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
