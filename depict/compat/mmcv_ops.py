"""Pure-PyTorch stand-ins for the ``mmcv.ops`` that mmsegmentation imports.

mmsegmentation 1.2.2 imports ``mmcv.ops`` unconditionally in a few modules
(``point_sample`` in ``mmseg.models.utils`` and ``mmseg.utils``,
``sigmoid_focal_loss`` in ``mmseg.models.losses``). With ``mmcv-lite`` there is no
compiled ``mmcv._ext``, so ``import mmcv.ops`` fails and with it
``import mmseg.models``. :func:`install_mmcv_ops_fallback` registers a small
``mmcv.ops`` module that provides those two functions in pure PyTorch and
raises :class:`ModuleNotFoundError` for every other op, which is what mmseg's
optional imports (``try: from mmcv.ops import PSAMask except
ModuleNotFoundError``) expect. With the compiled ``mmcv`` installed it does
nothing.

``import depict`` installs the stand-in; without it, the startup hook
:mod:`depict.compat.startup_hook` (run by the ``.pth`` file installed with the package) hands
out the same stand-in through :class:`FallbackOpsLoader` when ``mmcv.ops`` is
imported, so plain mmseg works beside depict.
"""
import importlib.abc
import importlib.util
import sys
import types
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['point_sample', 'sigmoid_focal_loss', 'install_mmcv_ops_fallback',
           'mmcv_ops_are_fallback', 'FallbackOpsLoader']

FALLBACK_OPS = ('point_sample', 'sigmoid_focal_loss')


def point_sample(input: Tensor, points: Tensor, align_corners: bool = False,
                 **kwargs) -> Tensor:
    """Bilinearly samples ``input`` at normalised point coordinates.

    Same contract as ``mmcv.ops.point_sample``: ``points`` hold (x, y) in
    [0, 1] x [0, 1] relative to the feature map, either as (N, P, 2) or as a grid
    (N, Hg, Wg, 2); points outside the map read zeros.

    Args:
        input: Feature map, (N, C, H, W).
        points: Point coordinates in [0, 1], (N, P, 2) or (N, Hg, Wg, 2).
        align_corners: Whether 0 and 1 are the centres of the corner pixels
            (True) or their outer corners (False), as in ``F.grid_sample``.
        **kwargs: Passed on to ``F.grid_sample`` (``mode``, ``padding_mode``).

    Returns:
        Sampled features, (N, C, P) or (N, C, Hg, Wg).
    """
    add_dim = points.dim() == 3
    if add_dim:
        # (N, P, 2) -> (N, P, 1, 2): grid_sample wants a 2-d grid of points.
        points = points.unsqueeze(2)
    # [0, 1] -> [-1, 1], grid_sample's coordinate convention.
    output = F.grid_sample(input, 2.0 * points - 1.0, align_corners=align_corners,
                           **kwargs)
    if add_dim:
        output = output.squeeze(3)  # (N, C, P, 1) -> (N, C, P)
    return output


def sigmoid_focal_loss(input: Tensor, target: Tensor, gamma: float = 2.0,
                       alpha: float = 0.25, weight: Optional[Tensor] = None,
                       reduction: str = 'mean') -> Tensor:
    """Sigmoid focal loss with the contract of ``mmcv.ops.sigmoid_focal_loss``.

    Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, eq. (5),
    applied per class as a one-vs-rest binary problem:
    ``FL = -alpha (1 - p)^gamma log p`` for the target class and
    ``-(1 - alpha) p^gamma log(1 - p)`` for every other class, ``p = sigmoid(x)``.

    Args:
        input: Logits, (N, C).
        target: Class index per row in [0, C], (N,); ``C`` means "no class"
            (every column is a negative).
        gamma: Focusing parameter.
        alpha: Weight of the positive term.
        weight: Optional per-class weight (C,); as in mmcv's kernel, row n is
            scaled by ``weight[target[n]]``.
        reduction: ``'none'`` (N, C), ``'mean'`` (sum over all elements divided
            by N, as mmcv does) or ``'sum'``.

    Returns:
        The loss, reduced as requested.
    """
    if input.dim() != 2 or target.dim() != 1 or input.size(0) != target.size(0):
        raise ValueError('sigmoid_focal_loss expects input (N, C) and target (N,), '
                         f'got {tuple(input.shape)} and {tuple(target.shape)}')
    if reduction not in ('none', 'mean', 'sum'):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    num_classes = input.size(1)
    # Index C ("no class") becomes an all-zero one-hot row.
    one_hot = F.one_hot(target.long(), num_classes + 1)[:, :num_classes].to(input.dtype)
    prob = input.sigmoid()
    # log p and log(1 - p) from the logits, stable for large |x|.
    log_p = F.logsigmoid(input)
    log_not_p = F.logsigmoid(-input)
    positive = -alpha * (1.0 - prob).pow(gamma) * log_p
    negative = -(1.0 - alpha) * prob.pow(gamma) * log_not_p
    loss = one_hot * positive + (1.0 - one_hot) * negative
    if weight is not None:
        loss = loss * weight[target.clamp(max=num_classes - 1)].unsqueeze(1)
    if reduction == 'mean':
        return loss.sum() / input.size(0)
    if reduction == 'sum':
        return loss.sum()
    return loss


class _FallbackOpsModule(types.ModuleType):
    """``mmcv.ops`` for mmcv-lite: the fallback ops, and a clear error for others."""

    def __getattr__(self, name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        raise ModuleNotFoundError(_missing_op_message(name), name=f'mmcv.ops.{name}')


class _FallbackOpsSubmoduleFinder(importlib.abc.MetaPathFinder):
    """Makes ``import mmcv.ops.<x>`` fail with the same clear message."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]], target=None):
        if fullname.startswith('mmcv.ops.') and mmcv_ops_are_fallback():
            raise ModuleNotFoundError(_missing_op_message(fullname[len('mmcv.ops.'):]),
                                      name=fullname)
        return None


def _missing_op_message(name: str) -> str:
    return (f'mmcv.ops.{name} needs the compiled mmcv (mmcv._ext), which is not '
            f'installed: depict only provides pure-PyTorch versions of '
            f'{", ".join(FALLBACK_OPS)}. Install the full mmcv for this op.')


def mmcv_ops_are_fallback() -> bool:
    """True when ``mmcv.ops`` is depict's pure-PyTorch stand-in."""
    return isinstance(sys.modules.get('mmcv.ops'), _FallbackOpsModule)


def _fallback_module() -> _FallbackOpsModule:
    """A new stand-in ``mmcv.ops`` (and the finder for its submodules)."""
    import warnings
    # mmcv-lite has no deformable attention and says so on every import of
    # mmcv.cnn; no model here uses it (DETR-style detectors do).
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention',
                            category=UserWarning)
    module = _FallbackOpsModule('mmcv.ops', __doc__)
    module.point_sample = point_sample
    module.sigmoid_focal_loss = sigmoid_focal_loss
    module.__all__ = list(FALLBACK_OPS)
    # A package path, so that ``import mmcv.ops.<x>`` reaches the finder below.
    module.__path__ = []
    if not any(isinstance(f, _FallbackOpsSubmoduleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _FallbackOpsSubmoduleFinder())
    return module


class FallbackOpsLoader(importlib.abc.Loader):
    """Loads the stand-in as ``mmcv.ops`` through the import system.

    Used by the startup hook (:mod:`depict.compat.startup_hook`) when ``mmcv.ops`` is
    imported without ``mmcv._ext``; the import system then registers the module
    in ``sys.modules`` and as ``mmcv.ops``.
    """

    def create_module(self, spec) -> types.ModuleType:
        return _fallback_module()

    def exec_module(self, module: types.ModuleType) -> None:
        pass  # complete on creation


def install_mmcv_ops_fallback() -> bool:
    """Registers the stand-in ``mmcv.ops`` when the compiled ops are missing.

    Returns:
        True if the stand-in was installed (or already was), False when the
        compiled mmcv is present and left untouched.
    """
    if mmcv_ops_are_fallback():
        return True
    if 'mmcv.ops' in sys.modules or importlib.util.find_spec('mmcv._ext') is not None:
        return False
    import mmcv

    module = _fallback_module()
    sys.modules['mmcv.ops'] = module
    mmcv.ops = module
    return True
