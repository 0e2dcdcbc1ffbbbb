"""Any plain timm ViT as an mmseg backbone (AugReg ViT, DeiT-III, DINOv2, EVA-02, SigLIP...).

:class:`TimmViT` wraps ``timm.create_model(model_name, ...)`` and returns the
outputs of chosen transformer blocks as (B, C, h, w) maps, the layout every
decode head of this project reads. What it adds to timm:

* **prefix tokens dropped**: CLS, register (DINOv2 ``reg4``) and distillation
  tokens never reach the decoder (timm's ``forward_intermediates`` splits them);
* **final norm on the last output only** (``final_norm=True``), as mmseg's
  ``VisionTransformer(final_norm=True)`` does: DEPICT and Segmenter read the
  normalised last layer, SegViT's ATM reads three raw layers (``final_norm=False``);
* **any window size**: the position embedding (or EVA-02's RoPE) is resampled
  by timm at every forward (``dynamic_img_size=True``) and inputs that are not a
  multiple of the patch size are padded bottom/right (``dynamic_img_pad=True``),
  so non-square slide-inference windows and patch 14 work;
* **no unused parameters**: the classifier, pooling and every block after the
  deepest output are removed (timm's ``prune_intermediate_layers``), and the
  final norm unless ``final_norm`` (DDP can run with
  ``find_unused_parameters=False``);
* **weights loaded at construction** (timm's way) and kept by mmengine's
  ``init_weights`` (timm models have an ``init_weights`` of their own that
  mmengine would otherwise call and that would re-initialise them).

Weights: ``pretrained=True`` downloads timm's default weights for the tag in
``model_name`` (network needed); ``checkpoint_file=...`` loads a local file
through timm's ``pretrained_cfg_overlay=dict(file=...)`` (timm's own key
filtering and position-embedding resampling apply). Offline, a failed download
raises an error that names the local-file option. ``docs/backbones.md`` lists
the weights of each config.

Layer-wise lr decay: :class:`~depict.engine.optimizers.ViTLayerDecayOptimWrapperConstructor`
reads this wrapper's parameter names (``backbone.model.blocks.<i>`` etc.).

For large ViTs (ViT-L and up) two memory savers: ``frozen_stages`` (mmseg's
Swin / mmdet's ResNet convention: no gradients, eval mode) and ``with_cp``
(activation checkpointing per block, mmseg's name); docs/backbones.md gives
their measured memory.
"""
import re
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence, Union

from mmengine.model import BaseModule
from mmseg.registry import MODELS
import torch
from torch import Tensor, nn

from .frozen_stages import FrozenStagesMixin

__all__ = ['TimmViT']


@contextmanager
def _non_reentrant_checkpoints() -> Iterator[None]:
    """timm's per-block ``checkpoint`` with ``use_reentrant=False`` whatever the
    global timm setting: the reentrant variant gives no gradient to a block's
    parameters when the block's input does not require grad, which is the case
    right after frozen stages."""
    from timm.layers import set_reentrant_ckpt, use_reentrant_ckpt
    previous = use_reentrant_ckpt()
    set_reentrant_ckpt(False)
    try:
        yield
    finally:
        set_reentrant_ckpt(previous)


_NOT_PLAIN = ('{!r} is not a plain ViT with `blocks`, `forward_intermediates` and dynamic image '
              'sizes (TimmViT wraps timm VisionTransformer/Eva models; use an mmseg backbone '
              'such as Swin or MixVisionTransformer for pyramid networks).')


def _name_patch_size(model_name: str) -> Optional[int]:
    """The patch size in a timm model name (``vit_large_patch14_...`` -> 14)."""
    match = re.search(r'patch(\d+)', model_name)
    return int(match.group(1)) if match else None


@MODELS.register_module()
class TimmViT(FrozenStagesMixin, BaseModule):
    """A plain timm ViT returning chosen block outputs as (B, C, h, w) maps.

    Args:
        model_name: timm model name with optional pretrained tag, e.g.
            ``'vit_large_patch14_reg4_dinov2.lvd142m'``,
            ``'eva02_large_patch14_448.mim_m38m_ft_in22k_in1k'``.
        pretrained: Load timm's pretrained weights (downloads unless
            ``checkpoint_file`` is given).
        checkpoint_file: Local weights file (timm/Hugging Face layout:
            ``.pth``, ``.bin`` or ``.safetensors``); implies ``pretrained``.
        img_size: The pretrained position grid is resampled to this size at
            load time (use the training crop); other sizes are handled at
            forward time. With ``dynamic_img_pad`` it is rounded up to a
            multiple of the patch size, the size inputs are padded to (crop
            512 at patch 14: grid 37 x 37 for the 518 x 518 padded input).
        out_indices: Blocks (0-based; negative counts from the end) whose
            outputs are returned, in this order.
        final_norm: Apply the model's final norm to the last block's output
            (only when the last block is in ``out_indices``; mmseg's
            semantics). timm models pooled with ``fc_norm`` have no ``norm``:
            then ``fc_norm`` is used.
        drop_path_rate: Stochastic depth (timm's linear rule over the blocks).
        dynamic_img_pad: Pad inputs that are not a multiple of the patch size
            (bottom/right, as mmseg's ViT). If False such inputs raise.
        frozen_stages: Stages frozen during training, counted as in mmseg's
            Swin and mmdet's ResNet: ``-1`` none; ``0`` the embedding stage
            (patch embedding, position embedding, CLS / register tokens); ``k``
            the embedding and blocks ``0 .. k-1``; ``len(layers)`` (the kept
            blocks) the whole backbone, final norm included (linear probing
            of a frozen ViT). Frozen parameters get ``requires_grad=False``
            (build the optimizer with ``TrainableOptimWrapperConstructor`` or
            ``ViTLayerDecayOptimWrapperConstructor`` so that it holds none),
            and the frozen modules are put back in eval mode at every
            ``train()``, as mmseg's Swin ``_freeze_stages`` does: dropout and
            drop-path are off in frozen blocks, so they compute the fixed
            features the decoder learns from (the frozen-feature protocol of
            DINOv2's linear evaluation). LayerNorm has no running statistics,
            so eval mode changes nothing else. No activations are kept for
            the frozen prefix (nothing in it requires grad).
        with_cp: Activation checkpointing: every block's activations are
            recomputed in the backward pass instead of being stored
            (``torch.utils.checkpoint`` with ``use_reentrant=False``, through
            timm's per-block ``grad_checkpointing``), trading about one more
            forward of the blocks for their activation memory. Same outputs
            and gradients as without it; drop-path draws the same masks in
            the recomputation (checkpoint restores the RNG state). Used only
            when autograd records (training); inference is unchanged.
        model_kwargs: Further ``timm.create_model`` keyword arguments (e.g.
            ``patch_size``, ``embed_dim``, ``depth``, ``num_heads`` for tiny
            test models; these change the architecture, so not with weights).
        init_cfg: mmengine init config; usually None (weights come from timm).
    """

    def __init__(self, *, model_name: str, pretrained: bool = False,
                 checkpoint_file: Optional[str] = None,
                 img_size: Union[int, Sequence[int], None] = None,
                 out_indices: Union[int, Sequence[int]] = -1, final_norm: bool = True,
                 drop_path_rate: float = 0.0, dynamic_img_pad: bool = True,
                 frozen_stages: int = -1, with_cp: bool = False,
                 model_kwargs: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        import timm  # a requirement; imported here so that depict imports without cost

        kwargs = dict(model_kwargs or {})
        if img_size is not None:
            size = tuple(img_size) if not isinstance(img_size, int) else (img_size, img_size)
            patch = kwargs.get('patch_size') or _name_patch_size(model_name)
            if dynamic_img_pad and isinstance(patch, int):
                # Inputs are padded up to the patch multiple: build the grid they use.
                size = tuple(-(-s // patch) * patch for s in size)
            kwargs['img_size'] = size
        pretrained = bool(pretrained or checkpoint_file)
        if checkpoint_file is not None:
            kwargs['pretrained_cfg_overlay'] = dict(file=checkpoint_file)
        try:
            model = timm.create_model(model_name, pretrained=pretrained, num_classes=0,
                                      drop_path_rate=drop_path_rate, dynamic_img_size=True,
                                      dynamic_img_pad=dynamic_img_pad, **kwargs)
        except RuntimeError as error:
            if 'Unknown model' in str(error):
                raise ValueError(f'timm has no model {model_name!r} (timm.list_models('
                                 f'"{model_name.split(".")[0][:8]}*") lists names)') from error
            raise
        except TypeError as error:
            if 'dynamic_img' in str(error):
                raise ValueError(_NOT_PLAIN.format(model_name)) from error
            raise
        except Exception as error:  # noqa: BLE001 (re-raised, or re-raised with the fix)
            network = isinstance(error, (OSError, ConnectionError)) or type(
                error).__module__.split('.')[0] in ('huggingface_hub', 'httpx', 'requests',
                                                    'urllib3')
            if not pretrained or checkpoint_file is not None or not network:
                raise
            raise RuntimeError(
                f'Could not download the pretrained weights of {model_name!r} ({error}). '
                'Without network access, download the file elsewhere (e.g. the Hugging Face '
                f'hub repo timm/{model_name}) and set backbone.checkpoint_file='
                '"path/to/model.safetensors" (timm pretrained_cfg_overlay=dict(file=...)).'
            ) from error
        if getattr(model, 'blocks', None) is None or not hasattr(model, 'forward_intermediates'):
            raise ValueError(_NOT_PLAIN.format(model_name))
        depth = len(model.blocks)
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        bad = [i for i in indices if not -depth <= i < depth]
        if not indices or bad:
            raise ValueError(f'out_indices={out_indices} must index the {depth} blocks of '
                             f'{model_name!r} (0-based, negative from the end); bad: {bad}')
        self.out_indices = tuple(i % depth for i in indices)
        last = max(self.out_indices)
        self.final_norm = final_norm
        norm = model.norm
        if isinstance(norm, nn.Identity) and not isinstance(
                getattr(model, 'fc_norm', nn.Identity()), nn.Identity):
            norm = model.fc_norm
        # Keep blocks up to the deepest output only; drop the head and pooling.
        model.prune_intermediate_layers(sorted(set(self.out_indices)), prune_norm=True,
                                        prune_head=True)
        self.model = model
        # The final norm belongs to the last kept block's output, as in mmseg.
        self.norm = norm if final_norm and last == depth - 1 else None
        self.embed_dims = model.embed_dim
        self.patch_size = tuple(model.patch_embed.patch_size)
        self.num_prefix_tokens = model.num_prefix_tokens
        self.with_cp = bool(with_cp)
        self._setup_frozen_stages(frozen_stages)

    def _frozen_stage_parts(self):
        # Embedding stage: every child of the timm model but the blocks (patch
        # embedding, position dropout, pre-norm, RoPE; pruned heads are Identity)
        # and the parameters it holds itself (cls / reg tokens, pos_embed).
        embedding = [m for name, m in self.model.named_children() if name != 'blocks']
        return (embedding, list(self.model.parameters(recurse=False)), self.model.blocks,
                self.norm)

    @property
    def layers(self) -> nn.ModuleList:
        """The (kept) transformer blocks, under the name mmseg's ViT uses."""
        return self.model.blocks

    def init_weights(self) -> None:
        """Keeps the weights timm loaded at construction.

        mmengine's default would call timm's own ``init_weights`` (a random
        re-initialisation). An explicit ``init_cfg`` (e.g. a ``Pretrained``
        checkpoint in this wrapper's key layout) still applies.
        """
        if self.init_cfg is not None:
            super().init_weights()

    def forward(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """(B, 3, H, W) -> one (B, C, ⌈H/p⌉, ⌈W/p⌉) map per ``out_indices`` entry."""
        batch, _, height, width = inputs.shape
        grid_h, grid_w = self.model.patch_embed.dynamic_feat_size((height, width))
        wanted = sorted(set(self.out_indices))
        # timm checkpoints each block when its flag is set; only worth it (and only
        # set) while autograd records.
        self.model.grad_checkpointing = self.with_cp and torch.is_grad_enabled()
        with _non_reentrant_checkpoints():
            # Each intermediate is (B, h*w, C): prefix tokens already split off by timm.
            tokens = self.model.forward_intermediates(
                inputs, indices=wanted, norm=False, output_fmt='NLC', intermediates_only=True,
                stop_early=True)
        by_block = dict(zip(wanted, tokens))
        last = len(self.model.blocks) - 1
        outs = []
        for index in self.out_indices:
            x = by_block[index]
            if index == last and self.norm is not None:
                x = self.norm(x)
            # (B, h*w, C) -> (B, h, w, C) -> (B, C, h, w)
            outs.append(x.reshape(batch, grid_h, grid_w, -1).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def extra_repr(self) -> str:
        return (f'out_indices={self.out_indices}, final_norm={self.norm is not None}, '
                f'patch_size={self.patch_size}, prefix_tokens={self.num_prefix_tokens}, '
                f'frozen_stages={self.frozen_stages}, with_cp={self.with_cp}')

