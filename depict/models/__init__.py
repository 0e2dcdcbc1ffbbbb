from . import backbones, decode_heads, layers, losses  # noqa: F401
