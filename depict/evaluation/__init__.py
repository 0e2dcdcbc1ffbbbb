from .cityscapes import CityscapesOfficialMetric, evaluate_folder, evaluate_official
from .confusion_matrix import ConfusionMatrixMetric
from .formats import (SegPredictionWriter, add_prediction_writer, prediction_format,
                      train_ids_to_label_ids, write_prediction)

__all__ = [
    'CityscapesOfficialMetric', 'ConfusionMatrixMetric', 'SegPredictionWriter',
    'add_prediction_writer', 'evaluate_folder', 'evaluate_official', 'prediction_format',
    'train_ids_to_label_ids', 'write_prediction'
]
