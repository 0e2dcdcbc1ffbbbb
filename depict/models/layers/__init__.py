from .attention import (MultiheadAttention, attention, init_like_torch_mha_, merge_heads,
                        split_heads)
from .class_masks import class_masks, prediction_size
from .coding_rate_attention import (MSCA, MSSA, MSCALayer, MSSALayer, SubspaceAttention,
                                    subspace_attention)
from .region_features import class_area_fractions, region_prototypes
from .sublayer import FFN, ResidualNorm
from .transformer_decoder import DiscriminativeCrossAttentionLayer, PostNormDecoderLayer
from .atm_decoder import ATMDecoder, ATMOutputs, Lateral, QueryUpsampler
from .scale_block import ScaleBlock

__all__ = [
    'MultiheadAttention', 'attention', 'init_like_torch_mha_', 'merge_heads', 'split_heads', 'MSSA', 'MSCA',
    'MSSALayer', 'MSCALayer', 'SubspaceAttention', 'subspace_attention', 'PostNormDecoderLayer',
    'class_masks', 'prediction_size', 'class_area_fractions', 'region_prototypes', 'FFN',
    'ResidualNorm',
    'DiscriminativeCrossAttentionLayer', 'ATMDecoder', 'ATMOutputs', 'Lateral', 'QueryUpsampler',
    'ScaleBlock'
]
