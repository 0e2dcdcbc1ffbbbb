# Cityscapes (gtFine), 19 train classes from *_gtFine_labelTrainIds.png (255 =
# ignore), which tools/dataset_converters/cityscapes.py writes from the official
# *_gtFine_labelIds.png; check: tools/misc/check_dataset.py. mmseg's 512x1024
# crops (slide stride 341 / 682); cityscapes_768x768.py is the papers' setting.
# Frames all have the test size, so the mmseg 1.x and 0.x multi-scale views
# coincide. Written once in catalog.py.
_base_ = ['./catalog.py']
protocols = dict(_delete_=True, **_base_.protocols.cityscapes)
train_dataloader = protocols.pop('train_dataloader')
val_dataloader = test_dataloader = protocols.pop('val_dataloader')
test_pipeline = val_dataloader['dataset']['pipeline']  # mmseg.apis.inference_model reads it
tta_pipeline = protocols.pop('tta_pipeline')
