"""SegPredictionWriter / add_prediction_writer: file names, label conventions,
config edits (tools/test.py --out, --format-only)."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.datasets import ADE20KDataset, CityscapesDataset, PascalContextDataset
from PIL import Image

from depict.evaluation import (SegPredictionWriter, add_prediction_writer, prediction_format,
                               train_ids_to_label_ids)


def _write(tmp_path, meta: dict, pred: np.ndarray, img_path: str, **kwargs) -> np.ndarray:
    writer = SegPredictionWriter(output_dir=str(tmp_path), **kwargs)
    writer.dataset_meta = meta
    writer.process({}, [dict(img_path=img_path,
                             pred_sem_seg=dict(data=torch.from_numpy(pred)[None]))])
    assert writer.compute_metrics(writer.results) == {}
    return np.array(Image.open(tmp_path / (img_path.split('/')[-1].rsplit('.', 1)[0] + '.png')))


@pytest.mark.parametrize('meta, reduce, expected_offset', [
    (ADE20KDataset.METAINFO, True, 1),          # 0..149 -> ADE20K's 1..150
    (PascalContextDataset.METAINFO, False, 0),  # 60 classes: unchanged
])
def test_label_map_convention(tmp_path, meta, reduce, expected_offset):
    pred = np.arange(24, dtype=np.int64).reshape(4, 6) % len(meta['classes'])
    out = _write(tmp_path, dict(meta, reduce_zero_label=reduce), pred, 'data/x/img_001.jpg')
    assert out.dtype == np.uint8 and (out == pred + expected_offset).all()


def test_cityscapes_label_ids_and_names(tmp_path):
    pred = np.array([[0, 1, 2, 18], [10, 11, 13, 255]])
    out = _write(tmp_path, dict(CityscapesDataset.METAINFO, reduce_zero_label=False), pred,
                 'leftImg8bit/val/ulm/ulm_000000_000019_leftImg8bit.png')
    assert (tmp_path / 'ulm_000000_000019_leftImg8bit.png').is_file()
    assert out.tolist() == [[7, 8, 11, 33], [23, 24, 26, 0]]
    assert (train_ids_to_label_ids(pred) == out).all()


def test_format_selection():
    assert prediction_format(CityscapesDataset.METAINFO) == 'cityscapes'
    assert prediction_format(ADE20KDataset.METAINFO) == 'label_map'
    assert prediction_format(None) == 'label_map'
    with pytest.raises(ValueError, match='format'):
        SegPredictionWriter(output_dir='/tmp/unused', format='png')


def test_add_prediction_writer_edits_the_config():
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')]
    tta = [dict(type='LoadImageFromFile'),
           dict(type='TestTimeAug', transforms=[[dict(type='Resize', scale_factor=1.0)],
                                                [dict(type='LoadAnnotations')],
                                                [dict(type='PackSegInputs')]])]
    cfg = Config(dict(test_evaluator=dict(type='IoUMetric'),
                      test_dataloader=dict(dataset=dict(pipeline=pipeline))))
    add_prediction_writer(cfg, 'out')
    assert [e['type'] for e in cfg.test_evaluator] == ['IoUMetric', 'SegPredictionWriter']
    assert len(cfg.test_dataloader.dataset.pipeline) == 3  # annotations still loaded
    cfg = Config(dict(test_evaluator=[dict(type='IoUMetric')],
                      test_dataloader=dict(dataset=dict(pipeline=tta))))
    add_prediction_writer(cfg, 'out', format_only=True)
    assert [e['type'] for e in cfg.test_evaluator] == ['SegPredictionWriter']
    stages = cfg.test_dataloader.dataset.pipeline[1]['transforms']
    assert [s[0]['type'] for s in stages] == ['Resize', 'PackSegInputs']
