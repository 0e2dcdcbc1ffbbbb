# PASCAL Context, 59 classes: the same label PNGs as the 60-class setting, with
# background (0) ignored through reduce_zero_label (labels 1..59 -> 0..58).
# Scales and protocols as in pascal_context.py. Written once in catalog.py.
_base_ = ['./catalog.py']
protocols = dict(_delete_=True, **_base_.protocols.pascal_context_59)
train_dataloader = protocols.pop('train_dataloader')
val_dataloader = test_dataloader = protocols.pop('val_dataloader')
test_pipeline = val_dataloader['dataset']['pipeline']  # mmseg.apis.inference_model reads it
tta_pipeline = protocols.pop('tta_pipeline')
