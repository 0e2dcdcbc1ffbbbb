"""Safe (weights_only) loading of mmengine checkpoints."""
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import CheckpointLoader

from depict.compat.safe_unpickling import CHECKPOINT_GLOBALS, UnsafeCheckpointError


def _mmengine_like_checkpoint() -> dict:
    hub = MessageHub.get_instance('depict-test-ckpt')
    for value in (1.0, 0.5, np.float64(0.25)):
        hub.update_scalar('train/loss', value)
    hub.update_info('eta', np.float64(12.5))
    hub.update_info('iter', 7)
    return dict(meta=dict(iter=7, seed=np.int64(3)),
                state_dict={'w': torch.randn(2, 2)},
                message_hub=hub.state_dict(),
                optimizer={'state': {}, 'param_groups': [{'lr': 0.1, 'params': [0]}]})


def test_full_checkpoint_loads_with_weights_only(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(_mmengine_like_checkpoint(), path)
    # Exactly the allow-listed globals, and never the getattr gadget.
    found = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    assert found == []
    ckpt = CheckpointLoader.load_checkpoint(str(path))
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx((1.0 + 0.5 + 0.25) / 3)
    assert buffer.current() == 0.25
    assert ckpt['message_hub']['runtime_info']['eta'] == 12.5


def test_history_buffer_pickle_has_no_getattr(tmp_path):
    buffer = HistoryBuffer([1.0, 2.0], [1, 1], max_length=10)
    torch.save({'b': buffer}, tmp_path / 'b.pth')
    with torch.serialization.safe_globals([]):
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(tmp_path / 'b.pth'))
    assert 'builtins.getattr' not in names
    loaded = torch.load(tmp_path / 'b.pth', weights_only=True)['b']
    assert loaded.max_length == 10 and loaded.mean() == 1.5


def test_foreign_global_is_refused_by_name(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': torch.nn.Linear}, path)
    with pytest.raises(UnsafeCheckpointError, match='torch.nn.modules.linear.Linear'):
        CheckpointLoader.load_checkpoint(str(path))


def test_getattr_is_not_allow_listed():
    names = {obj[1] if isinstance(obj, tuple) else f'{obj.__module__}.{obj.__qualname__}'
             for obj in CHECKPOINT_GLOBALS}
    assert 'builtins.getattr' not in names
    assert not any(name.startswith(('builtins.eval', 'builtins.exec', 'os.')) for name in names)


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'nowhere.pth'))
