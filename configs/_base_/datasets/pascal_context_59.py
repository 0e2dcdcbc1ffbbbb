# PASCAL Context, 59 classes: the same label PNGs as the 60-class setting, with
# background (0) ignored through reduce_zero_label (labels 1..59 -> 0..58).
# Scales and protocols as in pascal_context.py (docs/protocols.md).
_base_ = ['./pascal_context.py']
dataset_type = 'PascalContextDataset59'
img_scale = (4160, 520)
img_scale_mmseg = (520, 520)
test_scale = img_scale
crop_size = (480, 480)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_pipeline_mmseg = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=img_scale_mmseg, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]

img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
window = (480, 480)
flip_aug = [
    dict(type='RandomFlip', prob=0., direction='horizontal'),
    dict(type='RandomFlip', prob=1., direction='horizontal')
]
test_pipeline_mmseg = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale_mmseg, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
test_pipeline_paper = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='UpscaleToWindow', window_size=window),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
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
tta_pipeline_mmseg0x = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', keep_ratio=True,
                     scale=(int(img_scale_mmseg[0] * r), int(img_scale_mmseg[1] * r)))
                for r in img_ratios
            ],
            flip_aug,
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')],
        ])
]
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

train_dataloader = dict(dataset=dict(type=dataset_type, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, pipeline=test_pipeline))
test_dataloader = val_dataloader
