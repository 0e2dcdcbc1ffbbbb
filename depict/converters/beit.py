"""Converts official BEiT / MAE checkpoints to mmseg's ``BEiT`` / ``MAE`` keys.

    python tools/model_converters/beit2mmseg.py SRC.pth DST.pth   # depict's

mmseg ships its own ``tools/model_converters/beit2mmseg.py`` (installed under
``mmseg/.mim/tools/``); :func:`convert_beit_checkpoint` runs its
``convert_beit`` (block renames: ``blocks`` → ``layers``, ``norm`` → ``ln``,
``mlp.fc1/fc2`` → ``ffn.layers.0.0/1``, ``patch_embed.proj`` →
``patch_embed.projection``) and fixes what it leaves wrong for the checkpoints
users download (tested on synthetic checkpoints in the official key layout,
``tests/test_converters/test_beit_convert.py``):

* it keeps a copy of every ``patch_embed.proj.*`` key under the old name
  (an unexpected key at load time): dropped;
* the final norm of pre-training checkpoints (``norm.*``) is not renamed to
  mmseg's ``ln1.*`` (``final_norm=True``): renamed;
* BEiT pre-training checkpoints share one relative position bias
  (``rel_pos_bias.relative_position_bias_table``) across layers; mmseg's BEiT has
  one per layer: copied into every layer, as BEiT's own fine-tuning does;
* classifier, pooling norm, mask token, MAE decoder and pre-training heads
  (``head``, ``fc_norm``, ``mask_token``, ``decoder*``, ``lm_head``) and the
  ``relative_position_index`` buffers (rebuilt by mmseg): dropped.

MAE's ViT has no layer scale: load it into mmseg's ``MAE`` with
``init_values=1.0`` (the ``gamma`` scales start at 1, the network is the
pretrained one).
"""
import importlib.util
import os.path as osp
import re
from collections.abc import Mapping


__all__ = ['convert_beit_checkpoint', 'mmseg_convert_beit']

_DROPPED = ('head.', 'fc_norm.', 'mask_token', 'decoder', 'lm_head.', 'norm_pix')


def mmseg_convert_beit():
    """mmseg's own ``convert_beit`` from its installed tools (``.mim``)."""
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'model_converters',
                    'beit2mmseg.py')
    if not osp.exists(path):
        raise FileNotFoundError(f'mmseg\'s beit2mmseg.py is not installed at {path} '
                                '(pip install mmsegmentation ships it under .mim/tools)')
    spec = importlib.util.spec_from_file_location('_mmseg_beit2mmseg', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.convert_beit


def convert_beit_checkpoint(checkpoint: Mapping) -> dict:
    """An official BEiT / MAE checkpoint (or its ``model`` / ``state_dict``) ->
    an mmseg ``BEiT`` / ``MAE`` state dict."""
    for key in ('model', 'state_dict', 'module'):
        if key in checkpoint and isinstance(checkpoint[key], Mapping):
            checkpoint = checkpoint[key]
            break
    source = {k: v for k, v in checkpoint.items()
              if not k.startswith(_DROPPED) and 'relative_position_index' not in k}
    shared = source.pop('rel_pos_bias.relative_position_bias_table', None)
    converted = mmseg_convert_beit()(source)
    out = {}
    for key, value in converted.items():
        if key.startswith('patch_embed.proj.'):
            continue  # mmseg's converter keeps the old name beside the new one
        if key.startswith('norm.'):
            key = 'ln1.' + key[len('norm.'):]
        out[key] = value
    if shared is not None:
        layers = sorted({int(m.group(1)) for k in out for m in [re.match(r'layers\.(\d+)\.', k)]
                         if m})
        for i in layers:
            out.setdefault(f'layers.{i}.attn.relative_position_bias_table', shared.clone())
    return out

