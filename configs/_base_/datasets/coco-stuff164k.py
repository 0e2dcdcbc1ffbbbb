# COCO-Stuff-164K (COCO 2017 images + stuffthingmaps_trainval2017.zip): 171
# classes, 118287 train / 5000 val; 512x512 crops, short side 512, slide 512 / 341.
# Written once in catalog.py (preparation there and in docs/datasets.md).
_base_ = ['./catalog.py']
protocols = dict(_delete_=True, **_base_.protocols.coco_stuff164k)
train_dataloader = protocols.pop('train_dataloader')
val_dataloader = test_dataloader = protocols.pop('val_dataloader')
test_pipeline = val_dataloader['dataset']['pipeline']  # mmseg.apis.inference_model reads it
tta_pipeline = protocols.pop('tta_pipeline')
