# ADE20K with 640x640 crops (ViT-L recipes): short side 640 (long side <= 2560)
# for training scales and the single-scale test; slide window 640 / stride 608.
# At 640 both the 0.5x (320) and the 0.75x (480) multi-scale views of the
# papers' protocol are upsampled to the window. Written once in catalog.py.
_base_ = ['./catalog.py']
protocols = dict(_delete_=True, **_base_.protocols.ade20k_640x640)
train_dataloader = protocols.pop('train_dataloader')
val_dataloader = test_dataloader = protocols.pop('val_dataloader')
test_pipeline = val_dataloader['dataset']['pipeline']  # mmseg.apis.inference_model reads it
tta_pipeline = protocols.pop('tta_pipeline')
