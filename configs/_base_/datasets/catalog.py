# The dataset catalog: every dataset part (ade20k.py, cityscapes_768x768.py,
# ...) inherits this file and keeps ONE entry of `protocols` (its own), so the
# pipelines of every setting are written once, here, by `_setting` below.
#
# An entry holds what a config needs from its dataset:
#   train_dataloader, val_dataloader, tta_pipeline   the defaults (the papers'
#                                                     protocol); the dataset
#                                                     part moves them to the top
#   crop_size, num_classes, slide_test_cfg           sizes and classes
#   model                                             what the dataset sets in
#                                                     the model (leaf configs:
#                                                     `model = _base_.protocols.model`)
#   model_segmenter                                   the same with the official
#                                                     Segmenter / DEPICT conventions
#                                                     (their paper configs)
#   test_paper, test_mmseg, tta_paper, tta_mmseg,    the evaluation protocols
#   tta_mmseg0x (, train_mmseg)                       of docs/protocols.md, to
#                                                     select another one
# Protocols (docs/protocols.md); annotations load after resizing, so metrics
# compare at the original size:
#   test_mmseg   single scale, mmseg 0.x and 1.x: the image resized to the test size.
#   test_paper   single scale, Segmenter / DEPICT: the same, then a view smaller
#                than the window is upsampled to cover it (the default).
#   tta_mmseg    multi-scale, mmseg 1.x: ratios of the ORIGINAL image (ratio 1.0
#                is not the single-scale view).
#   tta_mmseg0x  multi-scale, mmseg 0.x and SegViT: ratios of the test size.
#   tta_paper    multi-scale, Segmenter / DEPICT: ratios of the test size, and
#                views smaller than the window upsampled to it (the default).
# Names with two leading underscores (and functions) stay out of dumped configs.
__ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
__flip = [
    dict(type='RandomFlip', prob=0., direction='horizontal'),
    dict(type='RandomFlip', prob=1., direction='horizontal')
]


def _tta(views, load_annotations):
    """A TestTimeAug pipeline over `views` (a list of transform lists) + flips."""
    return [
        dict(type='LoadImageFromFile', backend_args=None),
        dict(type='TestTimeAug',
             transforms=[*views, __flip, [load_annotations], [dict(type='PackSegInputs')]])
    ]


def _train(scale, crop, load_annotations, ratio_range=(0.5, 2.0)):
    # Checked*: mmcv's / mmseg's loaders whose errors name the broken file.
    return [
        dict(type='CheckedLoadImageFromFile'),
        dict(load_annotations, type='CheckedLoadAnnotations'),
        dict(type='RandomResize', scale=scale, ratio_range=ratio_range, keep_ratio=True),
        dict(type='RandomCrop', crop_size=crop, cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackSegInputs')
    ]


def _loader(dataset, batch_size, num_workers, train, pipeline, **paths):
    sampler = dict(type='InfiniteSampler', shuffle=True) if train else \
        dict(type='DefaultSampler', shuffle=False)
    return dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=True,
                sampler=sampler, dataset=dict(type=dataset, pipeline=pipeline, **paths))


def _setting(*, dataset, data_root, num_classes, crop, stride, test_scale, train_scale,
             train_paths, val_paths, reduce_zero_label, mmseg_scale=None,
             batch_size=4, num_workers=4, val_workers=4, ratios=__ratios,
             train_ratio_range=(0.5, 2.0), default='paper'):
    """One dataset at one crop size, with every protocol of docs/protocols.md.

    `mmseg_scale` is mmseg's single-scale test size where it differs from the
    papers' (PASCAL Context: long side 520 instead of short side 520); it also
    gives mmseg's training scales (`train_mmseg`). `default` names the
    protocol the loaders use ('paper', or 'mmseg' for the toy dataset).
    """
    # reduce_zero_label is the dataset class's (mmseg deprecates it here); the
    # argument stays to document each dataset's convention.
    load = dict(type='LoadAnnotations')
    mmseg = mmseg_scale or test_scale
    window = dict(type='UpscaleToWindow', window_size=crop)
    slide = dict(mode='slide', crop_size=crop, stride=stride)
    resize = dict(type='Resize', scale=test_scale, keep_ratio=True)
    by_test_scale = [dict(type='Resize', keep_ratio=True,
                          scale=(int(test_scale[0] * r), int(test_scale[1] * r)))
                     for r in ratios]
    protocols = dict(
        crop_size=crop,
        num_classes=num_classes,
        slide_test_cfg=slide,
        model=dict(data_preprocessor=dict(size=crop), backbone=dict(img_size=crop),
                   decode_head=dict(num_classes=num_classes), test_cfg=slide),
        # The official Segmenter / DEPICT code's conventions on top (docs/protocols.md,
        # "Parity with the official code" #1-3, #12-13), for the configs that
        # reproduce those papers: encoder LayerNorm eps 1e-5, bilinear resizing of
        # the position embeddings, windows every (window - 32) pixels, and logits
        # upsampled to the patch-padded size, then cropped.
        model_segmenter=dict(
            data_preprocessor=dict(size=crop),
            backbone=dict(img_size=crop, interpolate_mode='bilinear',
                          norm_cfg=dict(type='LN', eps=1e-5, requires_grad=True)),
            decode_head=dict(num_classes=num_classes),
            test_cfg=dict(slide, stride=(crop[0] - 32, crop[1] - 32), pad_to_patch=16)),
        test_mmseg=[dict(type='LoadImageFromFile'),
                    dict(type='Resize', scale=mmseg, keep_ratio=True), load,
                    dict(type='PackSegInputs')],
        test_paper=[dict(type='LoadImageFromFile'), resize, window, load,
                    dict(type='PackSegInputs')],
        tta_mmseg=_tta([[dict(type='Resize', scale_factor=r, keep_ratio=True)
                         for r in ratios]], load),
        tta_mmseg0x=_tta([[dict(type='Resize', keep_ratio=True,
                                scale=(int(mmseg[0] * r), int(mmseg[1] * r)))
                           for r in ratios]], load),
        tta_paper=_tta([by_test_scale, [window]], load),
    )
    if mmseg_scale is not None:
        protocols['train_mmseg'] = _train(mmseg_scale, crop, load)
    protocols.update(
        train_dataloader=_loader(dataset, batch_size, num_workers, True,
                                 _train(train_scale, crop, load, train_ratio_range),
                                 data_root=data_root, **train_paths),
        val_dataloader=_loader(dataset, 1, val_workers, False, protocols[f'test_{default}'],
                               data_root=data_root, **val_paths),
        tta_pipeline=protocols[f'tta_{default}'])
    return protocols


# ADE20K (SceneParsing, ADEChallengeData2016.zip): 150 classes, labels 1..150 on
# disk with 0 = "other", hence reduce_zero_label. Test size: short side = crop,
# long side at most 4x (2048x512, 2560x640).
__ade20k = dict(
    dataset='ADE20KDataset', data_root='data/ade/ADEChallengeData2016', num_classes=150,
    reduce_zero_label=True,
    train_paths=dict(data_prefix=dict(img_path='images/training',
                                      seg_map_path='annotations/training')),
    val_paths=dict(data_prefix=dict(img_path='images/validation',
                                    seg_map_path='annotations/validation')))
# Cityscapes (gtFine): 19 train classes from *_gtFine_labelTrainIds.png (255 =
# ignore). Test size: the full 2048x1024 frame.
__cityscapes = dict(
    dataset='CityscapesDataset', data_root='data/cityscapes/', num_classes=19,
    reduce_zero_label=False, test_scale=(2048, 1024), train_scale=(2048, 1024),
    batch_size=2, num_workers=2,
    train_paths=dict(data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train')),
    val_paths=dict(data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val')))
# PASCAL Context: papers resize the SHORT side to 520 (long side at most 8x);
# mmseg (and SegViT's training) caps the LONG side at 520 instead.
__pascal_context = dict(
    data_root='data/VOCdevkit/VOC2010/', crop=(480, 480), stride=(320, 320),
    test_scale=(4160, 520), train_scale=(4160, 520), mmseg_scale=(520, 520),
    train_paths=dict(data_prefix=dict(img_path='JPEGImages',
                                      seg_map_path='SegmentationClassContext'),
                     ann_file='ImageSets/SegmentationContext/train.txt'),
    val_paths=dict(data_prefix=dict(img_path='JPEGImages',
                                    seg_map_path='SegmentationClassContext'),
                   ann_file='ImageSets/SegmentationContext/val.txt'))
# COCO-Stuff: 171 classes, 512x512 crops, test size short side 512 (long side
# <= 2048), as mmseg's and SegViT's bases; slide 512 / stride 341 (SegViT's
# COCO-Stuff-10K window; our choice for 164K, which no paper here reports).
# Preparation: python tools/dataset_converters/coco_stuff.py {10k,164k} <data_root>
# (docs/datasets.md). 10K writes 0 = unlabeled, 1..171 (reduce_zero_label); 164K
# writes 0..170, 255 = unlabeled. The 10K test split is its evaluation split.
__coco_stuff = dict(dataset='COCOStuffDataset', num_classes=171, crop=(512, 512),
                    stride=(341, 341), test_scale=(2048, 512), train_scale=(2048, 512))


def _coco_stuff(data_root, train, val, reduce_zero_label):
    paths = [dict(reduce_zero_label=reduce_zero_label,
                  data_prefix=dict(img_path=f'images/{split}', seg_map_path=f'annotations/{split}'))
             for split in (train, val)]
    return _setting(**__coco_stuff, data_root=data_root, reduce_zero_label=reduce_zero_label,
                    train_paths=paths[0], val_paths=paths[1])


protocols = dict(
    coco_stuff10k=_coco_stuff('data/coco_stuff10k', 'train2014', 'test2014', True),
    coco_stuff164k=_coco_stuff('data/coco_stuff164k', 'train2017', 'val2017', False),
    ade20k=_setting(**__ade20k, crop=(512, 512), stride=(480, 480), test_scale=(2048, 512),
                    train_scale=(2048, 512)),
    ade20k_640x640=_setting(**__ade20k, crop=(640, 640), stride=(608, 608),
                            test_scale=(2560, 640), train_scale=(2560, 640)),
    cityscapes=_setting(**__cityscapes, crop=(512, 1024), stride=(341, 682)),
    cityscapes_768x768=_setting(**__cityscapes, crop=(768, 768), stride=(512, 512)),
    pascal_context=_setting(**__pascal_context, dataset='PascalContextDataset',
                            num_classes=60, reduce_zero_label=False),
    pascal_context_59=_setting(**__pascal_context, dataset='PascalContextDataset59',
                               num_classes=59, reduce_zero_label=True),
    # The embedded toy dataset (depict/datasets/toy_generator.py): 8 classes,
    # ~96x96 procedural scenes in ADE20K's layout, written to data_root on first
    # use; mmseg's protocols (no window upsampling), ratios 0.75-1.25.
    toy=_setting(dataset='ToyDataset', data_root='data/toy', num_classes=8,
                 reduce_zero_label=True, crop=(64, 64), stride=(48, 48),
                 test_scale=(128, 96), train_scale=(128, 96), train_ratio_range=(0.75, 1.5),
                 ratios=[0.75, 1.0, 1.25], default='mmseg', batch_size=8, num_workers=2,
                 val_workers=2,
                 train_paths=dict(data_prefix=dict(img_path='images/training',
                                                   seg_map_path='annotations/training')),
                 val_paths=dict(data_prefix=dict(img_path='images/validation',
                                                 seg_map_path='annotations/validation'))),
)
# Our IoUMetric mIoU equals the official cityscapesscripts class mIoU
# (tests/test_evaluation/test_cityscapes_official.py); add
# dict(type='CityscapesOfficialMetric') to a list to also get the official
# iIoU and category scores.
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
