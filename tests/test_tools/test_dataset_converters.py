"""Preparation tools on miniature official releases:
tools/dataset_converters/cityscapes.py and pascal_context.py."""
import glob
import importlib.util
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import PYTHON, REPO, run_tool
from depict.testing import (expected_pascal_context_labels, make_cityscapes_release,
                            make_pascal_context_release)

CONVERTERS = osp.join(REPO, 'tools', 'dataset_converters')


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'converter_{name}',
                                                  osp.join(CONVERTERS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cityscapes_tool = _load_tool('cityscapes')
pascal_tool = _load_tool('pascal_context')


@pytest.fixture(scope='module')
def cityscapes_raw(tmp_path_factory) -> str:
    return make_cityscapes_release(str(tmp_path_factory.mktemp('cs') / 'cityscapes'), seed=2)


def _train_ids(root: str) -> dict[str, np.ndarray]:
    return {p[len(root):]: np.array(Image.open(p))
            for p in sorted(glob.glob(osp.join(root, 'gtFine', '*', '*',
                                               '*_labelTrainIds.png')))}


def test_cityscapes_train_ids_from_label_ids(tmp_path, cityscapes_raw, capsys):
    from cityscapesscripts.helpers.labels import id2label

    root = str(tmp_path / 'cityscapes')
    shutil.copytree(cityscapes_raw, root)
    assert cityscapes_tool.main([root]) == 0
    assert ('Check: python tools/misc/check_dataset.py configs/_base_/datasets/'
            f'cityscapes_768x768.py --split val --data-root {root}') in capsys.readouterr().out
    converted = _train_ids(root)
    assert len(converted) == 8
    for rel, train_ids in converted.items():
        label_ids = np.array(Image.open(osp.join(root, rel.lstrip(os.sep)).replace(
            'labelTrainIds', 'labelIds')))
        assert train_ids.dtype == np.uint8 and train_ids.shape == label_ids.shape
        assert set(np.unique(train_ids)) <= set(range(19)) | {255}
        for label_id in np.unique(label_ids):
            expected = id2label[int(label_id)].trainId
            expected = 255 if expected in (-1, 255) else expected
            assert (train_ids[label_ids == label_id] == expected).all()
    # The ego vehicle strip (ignored in evaluation) is 255; roads are 0.
    sample = next(v for k, v in converted.items() if '/train/' in k)
    assert (sample[-2:] == 255).all() and (sample == 0).any()


def test_cityscapes_both_sources_agree(tmp_path, cityscapes_raw):
    """labelIds LUT == rasterised polygons (official createTrainIdLabelImgs route)."""
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    shutil.copytree(cityscapes_raw, a)
    shutil.copytree(cityscapes_raw, b)
    run_tool([PYTHON, osp.join(CONVERTERS, 'cityscapes.py'), a, '--nproc', '2'])
    assert cityscapes_tool.main([b, '--source', 'polygons']) == 0
    ours, official = _train_ids(a), _train_ids(b)
    assert ours.keys() == official.keys()
    for key in ours:
        assert (ours[key] == official[key]).all(), key


def test_cityscapes_errors_name_the_fix(tmp_path, cityscapes_raw, capsys):
    assert cityscapes_tool.main([str(tmp_path / 'nowhere')]) == 1
    assert 'gtFine_trainvaltest.zip' in capsys.readouterr().out
    root = str(tmp_path / 'cityscapes')
    shutil.copytree(cityscapes_raw, root)
    bad = glob.glob(osp.join(root, 'gtFine', 'val', '*', '*_labelIds.png'))[0]
    Image.fromarray(np.full((64, 128), 77, np.uint8)).save(bad)
    assert cityscapes_tool.main([root, '--splits', 'val']) == 1
    out = capsys.readouterr().out
    assert 'label ids [77] are not Cityscapes ids' in out and bad in out


@pytest.fixture(scope='module')
def pascal_raw(tmp_path_factory) -> dict:
    return make_pascal_context_release(str(tmp_path_factory.mktemp('pc')), num_train=4,
                                       num_val=3, seed=5)


def _copy_pascal(pascal_raw: dict, dest) -> dict:
    root = osp.dirname(pascal_raw['devkit'])
    shutil.copytree(root, str(dest))
    return dict(devkit=str(dest / 'VOCdevkit'), context=str(dest / 'context'),
                train=pascal_raw['train'], val=pascal_raw['val'])


def test_pascal_context_labels_from_mat_files(tmp_path, pascal_raw):
    from scipy.io import loadmat

    paths = _copy_pascal(pascal_raw, tmp_path / 'pc')
    # As a command line, like a user runs it.
    proc = run_tool([PYTHON, osp.join(CONVERTERS, 'pascal_context.py'), paths['devkit'],
                     paths['context']])
    assert 'train: 4 of 4 images' in proc.stdout
    voc = osp.join(paths['devkit'], 'VOC2010')
    # The hint is a command to paste: the check of this very folder.
    assert ('Check: python tools/misc/check_dataset.py configs/_base_/datasets/'
            f'pascal_context.py --split val --data-root {voc}') in proc.stdout
    for split in ('train', 'val'):
        listed = open(osp.join(voc, 'ImageSets', 'SegmentationContext', f'{split}.txt')).read()
        assert listed.split() == paths[split]
        for image_id in paths[split]:
            png = Image.open(osp.join(voc, 'SegmentationClassContext', f'{image_id}.png'))
            label_map = loadmat(osp.join(paths['context'], 'trainval',
                                         f'{image_id}.mat'))['LabelMap']
            assert png.mode == 'L'
            # Cross-check against the fixture's independent name -> id table.
            assert (np.array(png) == expected_pascal_context_labels(label_map)).all()


def test_pascal_context_table_matches_mmseg_classes():
    """Sorted 459-class ids <-> mmseg's PascalContextDataset order."""
    from mmseg.datasets import PascalContextDataset

    from depict.testing.fixtures import PASCAL_CONTEXT_59_IDS
    classes = PascalContextDataset.METAINFO['classes']
    for rank, class_id in enumerate(pascal_tool.CONTEXT_59_IDS, 1):
        assert PASCAL_CONTEXT_59_IDS[classes[rank]] == class_id
    assert list(pascal_tool.CONTEXT_59_IDS) == sorted(pascal_tool.CONTEXT_59_IDS)


def test_pascal_context_custom_split_and_missing_label_files(tmp_path, pascal_raw, capsys):
    paths = _copy_pascal(pascal_raw, tmp_path / 'pc')
    split_dir = tmp_path / 'detail_split'
    split_dir.mkdir()
    (split_dir / 'train.txt').write_text('\n'.join(paths['train'][:2]) + '\n')
    (split_dir / 'val.txt').write_text(paths['val'][0] + '\n')
    os.remove(osp.join(paths['context'], '59_labels.txt'))
    assert pascal_tool.main([paths['devkit'], paths['context'], '--split-dir',
                             str(split_dir), '-o', str(tmp_path / 'out')]) == 0
    out = capsys.readouterr().out
    assert 'built-in table' in out
    assert sorted(os.listdir(tmp_path / 'out')) == sorted(
        f'{i}.png' for i in paths['train'][:2] + paths['val'][:1])


def test_pascal_context_errors_name_the_fix(tmp_path, pascal_raw, capsys):
    paths = _copy_pascal(pascal_raw, tmp_path / 'pc')
    assert pascal_tool.main([paths['devkit'], str(tmp_path / 'nowhere')]) == 1
    assert 'extract trainval.tar.gz' in capsys.readouterr().out
    # A 59_labels.txt naming a class labels.txt does not know.
    labels59 = osp.join(paths['context'], '59_labels.txt')
    text = open(labels59).read().replace('wood', 'plywood')
    open(labels59, 'w').write(text)
    assert pascal_tool.main([paths['devkit'], paths['context']]) == 1
    assert "class 'plywood' is not in" in capsys.readouterr().out
    open(labels59, 'w').write(text.replace('plywood', 'wood'))
    # A missing .mat file is named.
    os.remove(osp.join(paths['context'], 'trainval', f'{paths["val"][0]}.mat'))
    assert pascal_tool.main([paths['devkit'], paths['context']]) == 1
    assert f'{paths["val"][0]}.mat (listed in val.txt) is missing' in capsys.readouterr().out
