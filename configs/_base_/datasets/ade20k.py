# ADE20K (SceneParsing, ADEChallengeData2016.zip): 150 classes, labels 1..150 on
# disk with 0 = "other", hence reduce_zero_label=True. 512x512 crops.
# Preparation: unzip only (docs/datasets.md); check: tools/misc/check_dataset.py.
dataset_type = 'ADE20KDataset'
data_root = 'data/ade/ADEChallengeData2016'
crop_size = (512, 512)
# Single-scale test size (w, h): short side 512, long side at most 2048.
test_scale = (2048, 512)
# Sliding-window inference of the papers at this crop size; decoder configs
# use it as `model.test_cfg={{_base_.slide_test_cfg}}`.
slide_test_cfg = dict(mode='slide', crop_size=(512, 512), stride=(480, 480))
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
# `test_pipeline` / `tta_pipeline` are the papers' protocol (Segmenter, DEPICT).
# A config selects another one with, e.g.,
#   test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_mmseg}}))
#   tta_pipeline = {{_base_.tta_pipeline_mmseg0x}}
# Annotations load after resizing: metrics compare at the original size.
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
window = slide_test_cfg['crop_size']
flip_aug = [
    dict(type='RandomFlip', prob=0., direction='horizontal'),
    dict(type='RandomFlip', prob=1., direction='horizontal')
]
# Single scale, mmseg 0.x and 1.x: the image resized to the test size.
test_pipeline_mmseg = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
# Single scale, Segmenter / DEPICT: the same, then a view smaller than the
# window (aspect ratio above 4 here) is upsampled to cover it.
test_pipeline_paper = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='UpscaleToWindow', window_size=window),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
# Multi-scale, mmseg 1.x: ratios of the ORIGINAL image (ratio 1.0 is not the
# single-scale view).
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
# Multi-scale, mmseg 0.x and SegViT: ratios of the single-scale test size.
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
# Multi-scale, Segmenter / DEPICT: ratios of the test size, and views smaller
# than the window upsampled to it.
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
