from .cityscapes import CityscapesOfficialMetric, evaluate_folder, evaluate_official
from .formats import (SegPredictionWriter, add_prediction_writer, prediction_format,
                      train_ids_to_label_ids, write_prediction)

__all__ = [
    'CityscapesOfficialMetric', 'evaluate_official', 'evaluate_folder', 'SegPredictionWriter',
    'add_prediction_writer', 'prediction_format', 'train_ids_to_label_ids', 'write_prediction'
]
