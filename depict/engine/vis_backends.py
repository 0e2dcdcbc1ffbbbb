"""A TensorBoard backend that is used when TensorBoard is installed."""
import importlib.util

from mmengine.visualization import BaseVisBackend, TensorboardVisBackend
from mmseg.registry import VISBACKENDS

__all__ = ['TensorboardIfInstalledVisBackend']


class _DisabledVisBackend(BaseVisBackend):
    """Stands in for a backend whose package is not installed: records nothing."""

    @property
    def experiment(self):
        return None

    def _init_env(self) -> None:
        pass


def _build_tensorboard_if_installed(save_dir: str, **kwargs) -> BaseVisBackend:
    """``TensorboardVisBackend`` if ``tensorboard`` is importable, else a no-op.

    Lets ``default_runtime.py`` record TensorBoard scalars whenever the
    ``[tools]`` extra is installed, without making TensorBoard a hard
    requirement (mmengine's backend fails on first use without it).
    """
    if importlib.util.find_spec('tensorboard') is None:
        return _DisabledVisBackend(save_dir)
    return TensorboardVisBackend(save_dir, **kwargs)


VISBACKENDS.register_module(name='TensorboardIfInstalledVisBackend',
                            module=_build_tensorboard_if_installed)
TensorboardIfInstalledVisBackend = _build_tensorboard_if_installed
