# COCO-Stuff-10K (cocostuff-10k-v1.1.zip): 171 classes, 9000 train / 1000 test
# images; 512x512 crops, test at short side 512, slide 512 / stride 341 (SegViT's).
# Written once in catalog.py (preparation there and in docs/datasets.md).
_base_ = ['./catalog.py']
protocols = dict(_delete_=True, **_base_.protocols.coco_stuff10k)
train_dataloader = protocols.pop('train_dataloader')
val_dataloader = test_dataloader = protocols.pop('val_dataloader')
test_pipeline = val_dataloader['dataset']['pipeline']  # mmseg.apis.inference_model reads it
tta_pipeline = protocols.pop('tta_pipeline')
