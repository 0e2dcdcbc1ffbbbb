# Cityscapes with 768x768 crops, as Segmenter, DEPICT (and our SegViT and
# representation-separation configs) train it; slide window 768 / stride 512.
_base_ = ['./cityscapes.py']
crop_size = (768, 768)
slide_test_cfg = dict(mode='slide', crop_size=(768, 768), stride=(512, 512))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
