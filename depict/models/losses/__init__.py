from .atm_loss import ATMLoss
from .region_contrastive_loss import RegionContrastiveLoss

__all__ = ['ATMLoss', 'RegionContrastiveLoss']
