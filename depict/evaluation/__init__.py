from .confusion_matrix import ConfusionMatrixMetric

__all__ = ['ConfusionMatrixMetric']
