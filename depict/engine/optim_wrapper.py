"""Mixed-precision training where mmengine's ``AmpOptimWrapper`` refuses to run.

mmengine 0.10.7's ``AmpOptimWrapper`` asserts a GPU/NPU/MLU/MUSA device. On
CPUs, bfloat16 autocast is well supported and, having float32's exponent
range, needs no loss scaling; :class:`AutocastOptimWrapper` runs the forward
pass (and so the loss) under ``torch.autocast`` for the model's device and
leaves the optimizer step in float32.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

__all__ = ['AutocastOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose forward runs under ``torch.autocast``.

    Args:
        dtype: Autocast dtype, ``'bfloat16'`` (default; no loss scaling
            needed) or ``'float16'`` (only sensible on GPUs, where mmengine's
            ``AmpOptimWrapper`` with its loss scaler should be preferred).
        **kwargs: Passed to ``OptimWrapper``.
    """

    def __init__(self, *, dtype: str = 'bfloat16', **kwargs) -> None:
        super().__init__(**kwargs)
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f"dtype must be 'bfloat16' or 'float16', got {dtype!r}")
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(device_type=device,
                                                          dtype=self.cast_dtype):
            yield
