from .region_contrastive_loss import RegionContrastiveLoss

__all__ = ['RegionContrastiveLoss']
