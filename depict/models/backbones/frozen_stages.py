"""``frozen_stages`` for plain ViT backbones, with mmseg's Swin / mmdet's ResNet semantics.

Fine-tuning ViT-L and larger often freezes the backbone or its first blocks
(memory: no activations kept, no gradients and no optimizer state for the
frozen part). mmseg's ``SwinTransformer`` (and mmdet's ``ResNet``) count
``frozen_stages`` as: ``-1`` nothing, ``0`` the stem / patch embedding,
``k`` the stem and the first ``k`` stages; frozen parts get
``requires_grad=False`` and are put back in eval mode at every ``train()``.
:class:`FrozenStagesMixin` gives our plain-ViT backbones the same option, a
stage being one transformer block:

* ``0``: the embedding stage: patch embedding, position embedding, CLS /
  register tokens and the modules between them and the first block
  (position dropout, pre-norm, RoPE);
* ``k``: the embedding and blocks ``0 .. k-1``;
* ``len(layers)``: the whole backbone, the final norm included.

Modules added beside the ViT that the pretrained weights do not cover (the
repsep local pathway, EoMT's queries) are never frozen.

Eval mode: frozen blocks run their dropout and drop-path as at inference, so
they compute the fixed features the decoder learns from (the frozen-feature
protocol of DINOv2's linear evaluation, and what Swin's ``_freeze_stages``
does). LayerNorm has no running statistics, so nothing else changes.
"""
from typing import Optional, Sequence

from torch import nn

__all__ = ['FrozenStagesMixin', 'MMSegViTFrozenStagesMixin', 'check_frozen_stages']


def check_frozen_stages(frozen_stages, num_blocks: int) -> int:
    """``frozen_stages`` if it is an int in ``[-1, num_blocks]``, else a ValueError."""
    if isinstance(frozen_stages, bool) or not isinstance(frozen_stages, int) \
            or not -1 <= frozen_stages <= num_blocks:
        raise ValueError(f'frozen_stages={frozen_stages!r} must be an int from -1 (nothing '
                         f'frozen) to {num_blocks} (the whole backbone: its {num_blocks} '
                         'blocks and the final norm); 0 freezes the embedding only')
    return frozen_stages


class FrozenStagesMixin:
    """Freezes the embedding and the first ``frozen_stages`` blocks (see the module).

    A backbone class lists ``FrozenStagesMixin`` before its nn.Module base,
    calls :meth:`_setup_frozen_stages` at the end of ``__init__`` and describes
    its stages by overriding :meth:`_frozen_stage_parts`.
    """

    frozen_stages: int = -1

    def _frozen_stage_parts(self) -> tuple[list[nn.Module], list[nn.Parameter],
                                           Sequence[nn.Module], Optional[nn.Module]]:
        """(embedding modules, embedding parameters, blocks, final norm or None)."""
        raise NotImplementedError

    def _setup_frozen_stages(self, frozen_stages: int) -> None:
        blocks = self._frozen_stage_parts()[2]
        self.frozen_stages = check_frozen_stages(frozen_stages, len(blocks))
        self._freeze_stages()

    def frozen_modules(self) -> list[nn.Module]:
        """The modules ``frozen_stages`` freezes, embedding stage first."""
        if self.frozen_stages < 0:
            return []
        embedding, _, blocks, final_norm = self._frozen_stage_parts()
        modules = list(embedding) + list(blocks[:self.frozen_stages])
        if self.frozen_stages == len(blocks) and final_norm is not None:
            modules.append(final_norm)
        return modules

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        for param in self._frozen_stage_parts()[1]:
            param.requires_grad_(False)
        for module in self.frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad_(False)

    def train(self, mode: bool = True):
        """Sets the mode, keeping frozen stages in eval mode (mmseg's Swin)."""
        super().train(mode)
        self._freeze_stages()
        return self


class MMSegViTFrozenStagesMixin(FrozenStagesMixin):
    """The stages of mmseg's ``VisionTransformer`` / ``BEiT`` / ``MAE`` layout.

    Embedding: ``patch_embed``, ``drop_after_pos``, ``ln_pre`` (those that
    exist) and the ``cls_token`` / ``pos_embed`` parameters; blocks:
    ``layers``; final norm: ``norm1`` (with ``final_norm``). Named, not "every
    other child", so that modules added beside the ViT (the repsep
    ``local_pathway``, EoMT's ``queries``) are never frozen.
    """

    _EMBEDDING_MODULES = ('patch_embed', 'drop_after_pos', 'ln_pre')
    _EMBEDDING_PARAMETERS = ('cls_token', 'pos_embed')

    def _frozen_stage_parts(self):
        children = dict(self.named_children())
        embedding = [children[name] for name in self._EMBEDDING_MODULES if name in children]
        own = dict(self.named_parameters(recurse=False))
        params = [own[name] for name in self._EMBEDDING_PARAMETERS if name in own]
        final_norm = getattr(self, 'norm1', None) if getattr(self, 'final_norm', False) else None
        return embedding, params, self.layers, final_norm
