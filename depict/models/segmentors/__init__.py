from .batched_slide import BatchedSlideEncoderDecoder, slide_windows
from .eomt_encoder_decoder import EoMTEncoderDecoder

__all__ = ['BatchedSlideEncoderDecoder', 'EoMTEncoderDecoder', 'slide_windows']
