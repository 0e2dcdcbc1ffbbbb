from .depict_ca_head import DepictCAHead
from .depict_sa_head import DepictSAHead
from .repsep_head import RepSepHead

__all__ = ['DepictCAHead', 'DepictSAHead', 'RepSepHead']
