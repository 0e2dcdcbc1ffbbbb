# PASCAL Context, 60 classes (59 + background as class 0; 255 = ignore), the
# setting Segmenter and DEPICT report. Labels: tools/dataset_converters/
# pascal_context.py (from the official release's .mat files); check:
# tools/misc/check_dataset.py. Crop 480; slide window 480 / stride 320.
# Scales (docs/protocols.md): the papers resize the SHORT side to 520 (x [0.5, 2]
# for training), the default here; mmseg's own config (and SegViT's training)
# caps the LONG side at 520: `protocols.test_mmseg` / `protocols.train_mmseg`.
# Written once in catalog.py.
_base_ = ['./catalog.py']
protocols = dict(_delete_=True, **_base_.protocols.pascal_context)
train_dataloader = protocols.pop('train_dataloader')
val_dataloader = test_dataloader = protocols.pop('val_dataloader')
test_pipeline = val_dataloader['dataset']['pipeline']  # mmseg.apis.inference_model reads it
tta_pipeline = protocols.pop('tta_pipeline')
