from .depict_ca_head import DepictCAHead
from .depict_sa_head import DepictSAHead

__all__ = ['DepictCAHead', 'DepictSAHead']
