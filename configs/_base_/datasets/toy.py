# The embedded toy dataset (depict/datasets/toy_generator.py): 8 classes,
# ~96x96 procedural scenes in ADE20K's layout, written to data_root on first use.
# 64x64 crops, slide window 64 / stride 48; mmseg's protocols (no window
# upsampling), multi-scale ratios 0.75-1.25. Written once in catalog.py.
_base_ = ['./catalog.py']
protocols = dict(_delete_=True, **_base_.protocols.toy)
train_dataloader = protocols.pop('train_dataloader')
val_dataloader = test_dataloader = protocols.pop('val_dataloader')
test_pipeline = val_dataloader['dataset']['pipeline']  # mmseg.apis.inference_model reads it
tta_pipeline = protocols.pop('tta_pipeline')
