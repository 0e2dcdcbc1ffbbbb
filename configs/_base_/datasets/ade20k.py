# ADE20K, 150 classes, 512x512 crops; single-scale test at short side 512 (long
# side <= 2048), slide window 512 / stride 480. Preparation: unzip only
# (docs/datasets.md); check: tools/misc/check_dataset.py. Every setting is
# written once in catalog.py; `protocols` holds this one's sizes, classes and
# the other evaluation protocols (docs/configs.md, docs/protocols.md).
_base_ = ['./catalog.py']
protocols = dict(_delete_=True, **_base_.protocols.ade20k)
train_dataloader = protocols.pop('train_dataloader')
val_dataloader = test_dataloader = protocols.pop('val_dataloader')
test_pipeline = val_dataloader['dataset']['pipeline']  # mmseg.apis.inference_model reads it
tta_pipeline = protocols.pop('tta_pipeline')
