from .atm_head import ATMHead
from .shrunk_atm_head import ShrunkATMHead

__all__ = ['ATMHead', 'ShrunkATMHead']
