"""The segmentor of EoMT: the backbone gets the decode head's readout in training.

EoMT's masked attention (Kerssies et al., CVPR 2025, Sec. 3.2) needs, inside
the ViT, the masks that the readout predicts from each of the last blocks'
inputs. mmseg's ``EncoderDecoder`` runs the backbone and the head one after the
other; :class:`EoMTEncoderDecoder` passes ``decode_head.readout`` to the
backbone in training (the backbone returns those predictions, so the head does
not compute them twice). Inference runs without masks, as the official
evaluation, so the backbone needs no readout there. Everything else, slide
windows batched or not and the ``pad_to_patch`` option included, is
:class:`~depict.models.segmentors.BatchedSlideEncoderDecoder`'s.
"""
from mmseg.registry import MODELS
from torch import Tensor

from .batched_slide import BatchedSlideEncoderDecoder

__all__ = ['EoMTEncoderDecoder']


@MODELS.register_module()
class EoMTEncoderDecoder(BatchedSlideEncoderDecoder):
    """:class:`BatchedSlideEncoderDecoder` whose backbone reads the head's
    readout in training (EoMT backbones and :class:`~depict.models.decode_heads.EoMTHead`)."""

    def extract_feat(self, inputs: Tensor):
        if not hasattr(self.backbone, 'attn_mask_probs'):
            raise TypeError(f'EoMTEncoderDecoder needs an EoMT backbone (EoMTTimmViT or '
                            f'EoMTVisionTransformer), got {type(self.backbone).__name__}')
        readout = self.decode_head.readout if self.training else None
        feats = self.backbone(inputs, readout=readout)
        if self.with_neck:
            feats = self.neck(feats)
        return feats
