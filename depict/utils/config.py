"""Config loading for our tools."""
from mmengine.config import Config

__all__ = ['load_config']


def load_config(path: str) -> Config:
    """``Config.fromfile(path)`` whose text dumps are not re-formatted by yapf.

    mmengine formats ``Config.pretty_text`` with yapf, and the Runner calls it
    when it logs the config, dumps it to the work dir and on every checkpoint
    save (the checkpoint's ``meta.cfg``). Profiling a toy training run showed
    yapf taking most of its time (1.5-5 s per call on 2 cores, six calls per
    run). ``Config.fromfile(..., format_python_code=False)`` would turn it off,
    but mmengine 0.10.7 drops that argument for text configs (it reaches only
    the lazy-import branch), so the flag is set on the instance. The
    unformatted text is the same Python: ``Config.fromstring`` gives back an
    equal config (tests/test_utils/test_config.py).
    """
    cfg = Config.fromfile(path)
    object.__setattr__(cfg, '_format_python_code', False)
    return cfg
