from .test_time import UpscaleToWindow

__all__ = ['UpscaleToWindow']
