from .atm_loss import ATMLoss
from .mask2former_loss import Mask2FormerLoss
from .region_contrastive_loss import RegionContrastiveLoss

__all__ = ['ATMLoss', 'Mask2FormerLoss', 'RegionContrastiveLoss']
