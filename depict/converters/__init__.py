"""Checkpoint converters: released checkpoints -> depict / mmseg keys.

* :mod:`.vit`: timm / AugReg ``.npz`` / DINOv2 / EVA-02 ViTs -> mmseg's
  ``VisionTransformer`` or depict's ``TimmViT`` (``tools/model_converters/vit2mmseg.py``);
* :mod:`.beit`: official BEiT / MAE -> mmseg's ``BEiT`` / ``MAE``
  (``tools/model_converters/beit2mmseg.py``);
* :mod:`.segmenter`: official Segmenter / DEPICT checkpoints
  (``tools/model_converters/segmenter2mmseg.py``);
* :mod:`.segvit`: official SegViT (ATM, Shrunk) mmseg 0.x checkpoints
  (``tools/model_converters/segvit2mmseg.py``);
* :mod:`.eomt`: official EoMT checkpoints (``tools/model_converters/eomt2mmseg.py``);
* :mod:`.eomt`: official EoMT checkpoints (DINOv2 encoders)
  (``tools/model_converters/eomt2mmseg.py``);
* :mod:`.official`: what the converters of official checkpoints share (safe
  loading with an allow-list, key mapping that refuses unknown and missing
  keys, dataset meta).

The command-line entries are the scripts in ``tools/model_converters/``.
"""
