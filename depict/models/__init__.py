from . import backbones, decode_heads, layers, losses, segmentors  # noqa: F401
