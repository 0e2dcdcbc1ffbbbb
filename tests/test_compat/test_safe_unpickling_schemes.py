"""Every checkpoint scheme mmengine knows loads through the safe loader.

No network: URLs are served by a loopback server or found in a pre-filled
torch hub cache; the model-zoo schemes resolve to such URLs.
"""
import os
import os.path as osp
import sys
import types

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import CheckpointLoader
from mmengine.runner import checkpoint as mm_ckpt
from mmseg.registry import MODELS

from conftest import TOY_CONFIG
from depict.compat.safe_unpickling import (SAFE_SCHEME_LOADERS, UnsafeCheckpointError,
                                     check_all_schemes_safe)
from hostile import SYSTEM_GLOBAL, serve_directory, write_hostile_checkpoint


@pytest.fixture
def hub_dir(tmp_path):
    """An empty torch hub cache; yields its checkpoints folder."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / 'hub'))
    os.makedirs(tmp_path / 'hub' / 'checkpoints')
    yield str(tmp_path / 'hub' / 'checkpoints')
    torch.hub.set_dir(old)


@pytest.fixture
def marker(tmp_path):
    path = str(tmp_path / 'code_ran')
    yield path
    assert not osp.exists(path), 'the hostile checkpoint ran code'


def _refused(filename: str):
    with pytest.raises(UnsafeCheckpointError, match=SYSTEM_GLOBAL) as err:
        CheckpointLoader.load_checkpoint(filename)
    return str(err.value)


def test_the_fixture_is_hostile(tmp_path):
    """Without the safe loader the file runs its command (what the tests guard)."""
    path = write_hostile_checkpoint(str(tmp_path / 'evil.pth'), str(tmp_path / 'ran'))
    torch.load(path, weights_only=False)
    assert osp.exists(tmp_path / 'ran')


@pytest.mark.parametrize('fmt', ['zip', 'legacy', 'raw'])
def test_local_file_is_refused_by_name(tmp_path, marker, fmt):
    path = write_hostile_checkpoint(str(tmp_path / 'evil.pth'), marker, fmt)
    message = _refused(path)
    # Only the foreign global is named, not the tensors' own (allowed) globals.
    assert 'OrderedDict' not in message and '_rebuild_tensor' not in message


def test_http_download_is_refused_by_name(tmp_path, hub_dir, marker):
    served = tmp_path / 'served'
    served.mkdir()
    write_hostile_checkpoint(str(served / 'evil.pth'), marker)
    torch.save({'state_dict': {'w': torch.arange(3.)}}, served / 'good.pth')
    with serve_directory(str(served)) as url:
        message = _refused(f'{url}/evil.pth')
        assert f'{url}/evil.pth' in message
        good = CheckpointLoader.load_checkpoint(f'{url}/good.pth')
    assert torch.equal(good['state_dict']['w'], torch.arange(3.))
    # Cached where torch hub caches downloads.
    assert sorted(os.listdir(hub_dir)) == ['evil.pth', 'good.pth']


def test_hub_cached_url_is_refused_without_network(hub_dir, marker):
    write_hostile_checkpoint(osp.join(hub_dir, 'vit.pth'), marker)
    _refused('https://weights.invalid/models/vit.pth')


def _prefill(hub_dir: str, url: str, marker: str) -> None:
    write_hostile_checkpoint(osp.join(hub_dir, url.rsplit('/', 1)[1]), marker)


def test_openmmlab_scheme(hub_dir, marker):
    _prefill(hub_dir, mm_ckpt.get_external_models()['vgg16_caffe'], marker)
    _refused('open-mmlab://vgg16_caffe')
    _refused('openmmlab://vgg16_caffe')


def test_openmmlab_scheme_local_file(tmp_path, marker, monkeypatch):
    """open-mmlab:// names may point to a file under MMENGINE_HOME."""
    monkeypatch.setenv('MMENGINE_HOME', str(tmp_path))
    write_hostile_checkpoint(str(tmp_path / 'evil.pth'), marker)
    monkeypatch.setattr(mm_ckpt, 'get_external_models', lambda: {'evil': 'evil.pth'})
    _refused('open-mmlab://evil')


def test_mmcls_scheme(hub_dir, marker):
    _prefill(hub_dir, mm_ckpt.get_mmcls_models()['vgg11'], marker)
    _refused('mmcls://vgg11')


@pytest.mark.parametrize('scheme', ['torchvision', 'modelzoo'])
def test_torchvision_scheme(hub_dir, marker, monkeypatch, scheme):
    # torchvision is not a dependency: its URL table is stubbed.
    url = 'https://download.pytorch.org/models/resnet50-0676ba61.pth'
    monkeypatch.setattr(mm_ckpt, 'get_torchvision_models', lambda: {'resnet50': url})
    _prefill(hub_dir, url, marker)
    _refused(f'{scheme}://resnet50')


def test_s3_scheme(tmp_path, marker, monkeypatch):
    write_hostile_checkpoint(str(tmp_path / 'evil.pth'), marker)
    data = (tmp_path / 'evil.pth').read_bytes()

    class Backend:
        def get(self, filename):
            return data

    import mmengine.fileio
    monkeypatch.setattr(mmengine.fileio, 'get_file_backend', lambda *a, **k: Backend())
    _refused('s3://bucket/evil.pth')
    _refused('cluster:s3://bucket/evil.pth')


def test_pavi_scheme(tmp_path, marker, monkeypatch):
    source = write_hostile_checkpoint(str(tmp_path / 'evil.pth'), marker)

    class Model:
        name = 'evil.pth'

        def download(self, dst):
            with open(source, 'rb') as src, open(dst, 'wb') as out:
                out.write(src.read())

    pavi = types.ModuleType('pavi')
    pavi.modelcloud = types.SimpleNamespace(get=lambda path: Model())
    monkeypatch.setitem(sys.modules, 'pavi', pavi)
    _refused('pavi://models/evil.pth')


def test_every_registered_scheme_is_ours():
    check_all_schemes_safe()
    assert set(CheckpointLoader._schemes.values()) <= set(SAFE_SCHEME_LOADERS.values())
    # Every scheme mmengine itself registers is covered.
    prefixes = {p for key in SAFE_SCHEME_LOADERS
                for p in ((key, ) if isinstance(key, str) else key)}
    assert prefixes == set(CheckpointLoader._schemes)


def test_foreign_scheme_loader_is_reported(monkeypatch):
    schemes = dict(CheckpointLoader._schemes)
    monkeypatch.setattr(CheckpointLoader, '_schemes', {**schemes, 'evil://': lambda f, m: {}})
    with pytest.raises(RuntimeError, match="'evil://'"):
        check_all_schemes_safe()


def _toy_model(**model_overrides):
    cfg = Config.fromfile(TOY_CONFIG)
    cfg.model.update(model_overrides)
    init_default_scope('mmseg')
    return MODELS.build(cfg.model)


def test_model_pretrained_url_is_refused(hub_dir, marker):
    _prefill(hub_dir, 'https://weights.invalid/vit.pth', marker)
    model = _toy_model(pretrained='https://weights.invalid/vit.pth')
    with pytest.raises(UnsafeCheckpointError, match=SYSTEM_GLOBAL):
        model.init_weights()


def test_init_cfg_pretrained_url_is_refused(hub_dir, marker):
    _prefill(hub_dir, 'https://weights.invalid/model.pth', marker)
    model = _toy_model(init_cfg=dict(type='Pretrained',
                                     checkpoint='https://weights.invalid/model.pth'))
    with pytest.raises(UnsafeCheckpointError, match=SYSTEM_GLOBAL):
        model.init_weights()


def test_legacy_benign_checkpoint_still_loads(tmp_path):
    torch.save({'state_dict': {'w': torch.arange(4.)}}, tmp_path / 'old.pth',
               _use_new_zipfile_serialization=False)
    ckpt = CheckpointLoader.load_checkpoint(str(tmp_path / 'old.pth'))
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(4.))
