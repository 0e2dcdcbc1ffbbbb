"""Convert an official BEiT / MAE checkpoint to mmseg's ``BEiT`` / ``MAE`` keys.

    python tools/model_converters/beit2mmseg.py SRC DST

SRC is a released BEiT (microsoft/unilm) or MAE (facebookresearch/mae)
checkpoint, pre-trained or fine-tuned (``model`` / ``state_dict`` / bare state
dict); it is read with ``weights_only=True`` and depict's allow-list. DST is
written as ``{'state_dict', 'meta'}``; set it as ``model.pretrained`` (or the
backbone's ``init_cfg``) in a config, e.g. ``configs/_base_/backbones/beit.py``.
mmseg's own ``beit2mmseg.py`` renames the blocks; depict also drops the keys
it leaves behind, renames the final norm and copies a shared relative position
bias into every layer. MAE has no layer scale: load it into mmseg's ``MAE`` with
``init_values=1.0``.

The conversion itself lives in :mod:`depict.converters.beit`.
"""
import argparse
import os
import os.path as osp
import sys

import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official BEiT / MAE checkpoint to mmseg BEiT / MAE keys')
    parser.add_argument('src', help='official BEiT / MAE checkpoint (.pth)')
    parser.add_argument('dst', help='output .pth file')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    from depict.compat.safe_unpickling import UnsafeCheckpointError, load_local_checkpoint
    from depict.converters.beit import convert_beit_checkpoint
    try:
        checkpoint = load_local_checkpoint(args.src, map_location='cpu')
    except (FileNotFoundError, UnsafeCheckpointError) as err:
        raise SystemExit(f'error: {err}') from None
    state = convert_beit_checkpoint(checkpoint)
    layer_scale = any(k.endswith('.gamma_1') for k in state)
    relative_bias = any(k.endswith('relative_position_bias_table') for k in state)
    meta = dict(converter='tools/model_converters/beit2mmseg.py',
                source=osp.basename(args.src), layer_scale=layer_scale,
                relative_position_bias=relative_bias)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=state, meta=meta), args.dst)
    num_params = sum(v.numel() for v in state.values())
    print(f'wrote {args.dst}: {len(state)} tensors, {num_params / 1e6:.2f} M parameters')
    if relative_bias:
        print("load into mmseg's BEiT (type='BEiT')")
    elif not layer_scale:
        print("no layer scale, no relative position bias (MAE): load into mmseg's MAE "
              "(type='MAE') with init_values=1.0")


if __name__ == '__main__':
    main()
