from .atm_head import ATMHead
from .depict_ca_head import DepictCAHead
from .depict_sa_head import DepictSAHead
from .eomt_head import EoMTHead
from .repsep_head import RepSepHead
from .segmenter_mask_head import SegmenterMaskHead
from .shrunk_atm_head import ShrunkATMHead

__all__ = ['ATMHead', 'DepictCAHead', 'DepictSAHead', 'EoMTHead', 'RepSepHead', 'SegmenterMaskHead',
           'ShrunkATMHead']
