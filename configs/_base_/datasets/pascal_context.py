# PASCAL Context, 60 classes (59 + background as class 0; 255 = ignore), the
# setting Segmenter and DEPICT report. Labels: tools/dataset_converters/
# pascal_context.py (from the official release's .mat files); check:
# tools/misc/check_dataset.py. Crop 480; slide window 480 / stride 320.
#
# Scales (docs/protocols.md): Segmenter and DEPICT resize the SHORT side to 520
# (x [0.5, 2] for training), SegViT tests at short side 520 as well; mmseg's own
# PASCAL Context config (and SegViT's training) caps the LONG side at 520
# instead, i.e. ~0.75x smaller images. The default here is the papers' scale;
# `train_pipeline_mmseg` / `test_pipeline_mmseg` are mmseg's.
dataset_type = 'PascalContextDataset'
data_root = 'data/VOCdevkit/VOC2010/'
img_scale = (4160, 520)  # short side 520, long side at most 8x (Segmenter)
img_scale_mmseg = (520, 520)  # long side 520 (mmseg, SegViT training)
test_scale = img_scale
crop_size = (480, 480)
slide_test_cfg = dict(mode='slide', crop_size=(480, 480), stride=(320, 320))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_pipeline_mmseg = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale_mmseg, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]

# ---- Evaluation protocols (docs/protocols.md) ---------------------------------
# `test_pipeline` / `tta_pipeline` are the papers' protocol; select another
# with e.g. `tta_pipeline = {{_base_.tta_pipeline_mmseg}}`. mmseg 1.2.2's
# 60-class config has no TTA pipeline; these mirror its 59-class one.
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
window = slide_test_cfg['crop_size']
flip_aug = [
    dict(type='RandomFlip', prob=0., direction='horizontal'),
    dict(type='RandomFlip', prob=1., direction='horizontal')
]
# Single scale, mmseg: long side 520.
test_pipeline_mmseg = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale_mmseg, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
# Single scale, papers: short side 520 (>= the 480 window, so the upsampling
# step only acts on panoramas wider than 8:1).
test_pipeline_paper = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='UpscaleToWindow', window_size=window),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
# Multi-scale, mmseg 1.x: ratios of the original image.
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
# Multi-scale, mmseg 0.x: ratios of mmseg's test size (long side 520 r).
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
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ])
]
# Multi-scale, Segmenter / DEPICT (and SegViT's view sizes, whose `min_size=480`
# resizes in one step): short side 520 r, at least the 480 window.
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
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/train.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
