# Cityscapes with 768x768 crops, as Segmenter, DEPICT (and our SegViT and
# representation-separation configs) train it; slide window 768 / stride 512.
# With a 768 window the papers' 0.5x view (512x1024) is upsampled to 768x1536.
# Written once in catalog.py.
_base_ = ['./catalog.py']
protocols = dict(_delete_=True, **_base_.protocols.cityscapes_768x768)
train_dataloader = protocols.pop('train_dataloader')
val_dataloader = test_dataloader = protocols.pop('val_dataloader')
test_pipeline = val_dataloader['dataset']['pipeline']  # mmseg.apis.inference_model reads it
tta_pipeline = protocols.pop('tta_pipeline')
