# Cityscapes (gtFine): 19 train classes from *_gtFine_labelTrainIds.png
# (255 = ignore), which tools/dataset_converters/cityscapes.py writes from the
# official *_gtFine_labelIds.png; check: tools/misc/check_dataset.py.
# mmseg's 512x1024 crops; cityscapes_768x768.py is the papers' setting.
dataset_type = 'CityscapesDataset'
data_root = 'data/cityscapes/'
crop_size = (512, 1024)
# Single-scale test size (w, h): the full 2048x1024 frame.
test_scale = (2048, 1024)
slide_test_cfg = dict(mode='slide', crop_size=(512, 1024), stride=(341, 682))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]

# ---- Evaluation protocols (docs/protocols.md) ---------------------------------
# `test_pipeline` / `tta_pipeline` are the papers' protocol (Segmenter, DEPICT);
# select another with e.g. `tta_pipeline = {{_base_.tta_pipeline_mmseg}}`.
# Cityscapes frames all have the test size, so the mmseg 1.x and 0.x
# multi-scale views coincide; the papers' differs by the window upsampling.
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
window = slide_test_cfg['crop_size']
flip_aug = [
    dict(type='RandomFlip', prob=0., direction='horizontal'),
    dict(type='RandomFlip', prob=1., direction='horizontal')
]
test_pipeline_mmseg = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
test_pipeline_paper = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='UpscaleToWindow', window_size=window),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
tta_pipeline_mmseg = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
            flip_aug,
            [dict(type='LoadAnnotations')],
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
                     scale=(int(test_scale[0] * r), int(test_scale[1] * r)))
                for r in img_ratios
            ],
            flip_aug,
            [dict(type='LoadAnnotations')],
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
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ])
]
test_pipeline = test_pipeline_paper
tta_pipeline = tta_pipeline_paper

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
# Our IoUMetric mIoU equals the official cityscapesscripts class mIoU
# (tests/test_evaluation/test_cityscapes_official.py); add
# dict(type='CityscapesOfficialMetric') to a list to also get the official
# iIoU and category scores.
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
