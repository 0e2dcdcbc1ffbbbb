"""Export a segmentor's window forward to ONNX, check it, and run it back in mmseg.

The exported graph is what one inference window costs: the RGB image as
float in, the data preprocessor's normalisation, the backbone, the decode head
and its resize to the input size, logits out. Sliding windows, test-time
augmentation and the resize back to the original image stay outside (the
config's test loop runs them around the graph, as it does around the PyTorch
model: :func:`use_onnx_window`).

Input contract (also written into the model's metadata, key ``depict``):

* ``image``: float32, (N, 3, H, W), RGB, values 0-255: the image as the test
  pipeline resizes it, not normalised (the graph applies the config's mean /
  std);
* ``logits``: float32, (N, num_classes, H, W): the decode head's scores at the
  input size (arg max over dim 1 is the prediction).

With ``dynamic=True`` N, H and W are symbolic: any batch and any size (non
square, not a multiple of the patch size: the backbone pads as it does in
PyTorch); a backbone that runs at one size only (mmseg's BEiT) keeps its H and
W (:func:`fixed_input_size`). The model code has no branch on the input size where an exported
graph would freeze one (tests/test_deploy compare ONNX Runtime with PyTorch at
sizes other than the export size for every decoder and backbone).
"""
from __future__ import annotations

import contextlib
import json
import os
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ['SegmentorWindow', 'export_onnx', 'check_size_generic', 'fixed_input_size',
           'input_shape', 'verify_onnx', 'read_contract', 'contract', 'compare', 'onnx_session',
           'use_onnx_window', 'load_segmentor', 'without_weight_loading', 'normalisation',
           'VerifyResult', 'MAX_RELATIVE_ERROR', 'MIN_ARGMAX_AGREEMENT']

INPUT_NAME = 'image'
OUTPUT_NAME = 'logits'
METADATA_KEY = 'depict'
#: ``--verify`` thresholds: max |ONNX - PyTorch| / max |PyTorch|, and the
#: fraction of pixels whose arg max agrees.
MAX_RELATIVE_ERROR = 1e-4
MIN_ARGMAX_AGREEMENT = 0.999

_MISSING = ('{} is needed to {}: pip install -e ".[deploy]" (onnx, onnxruntime and '
            'onnxscript at versions that work with this PyTorch; setup.py lists them).')


def _require(module: str, purpose: str):
    try:
        return __import__(module)
    except ImportError as error:
        raise ImportError(_MISSING.format(module, purpose)) from error


def normalisation(segmentor: nn.Module) -> tuple[Tensor, Tensor]:
    """The data preprocessor's (1, 3, 1, 1) mean and std (0 and 1 if it has none)."""
    preprocessor = segmentor.data_preprocessor
    if getattr(preprocessor, '_enable_normalize', False):
        return (preprocessor.mean.detach().float().reshape(1, -1, 1, 1).clone(),
                preprocessor.std.detach().float().reshape(1, -1, 1, 1).clone())
    return torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)


class SegmentorWindow(nn.Module):
    """A segmentor's window forward with its normalisation: RGB image -> logits.

    The same computation as mmseg's test step on one window after the data
    preprocessor's channel flip (BGR file -> RGB): normalisation, then the
    segmentor's ``encode_decode`` (backbone, head, resize to the window).

    Args:
        segmentor: An mmseg ``EncoderDecoder`` in eval mode; its data
            preprocessor's mean / std move into the graph.
    """

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        mean, std = normalisation(segmentor)
        self.register_buffer('mean', mean, persistent=False)
        self.register_buffer('std', std, persistent=False)
        self.segmentor = segmentor

    def forward(self, image: Tensor) -> Tensor:
        """(N, 3, H, W) RGB float 0-255 -> (N, num_classes, H, W) logits."""
        inputs = (image - self.mean) / self.std
        height, width = image.shape[-2:]
        # The heads read the output size from the first sample's metadata
        # (mmseg's predict_by_feat); taken from the tensor, it stays symbolic
        # in the exported graph.
        metas = [dict(img_shape=(height, width), ori_shape=(height, width),
                      pad_shape=(height, width))]
        return self.segmentor.encode_decode(inputs, metas)


def _example(batch: int, shape: Sequence[int], seed: int = 0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, int(shape[0]), int(shape[1]), generator=generator) * 255


def contract(segmentor: nn.Module, *, dynamic: bool, shape: Sequence[int],
             config: Optional[str] = None) -> dict:
    """What the exported graph takes and returns (the ``depict`` metadata entry).

    ``input.shape`` is authoritative: a name is a dynamic dimension, a number
    a fixed one (a dynamic export of a fixed-size backbone, :func:`fixed_input_size`,
    has a dynamic batch and a fixed height and width).
    """
    classes = int(getattr(segmentor.decode_head, 'num_classes', 0)) or None
    height, width = (int(s) for s in shape)
    fixed = fixed_input_size(segmentor) if dynamic else None
    if not dynamic:
        size = [1, 3, height, width]
    elif fixed is not None:
        size = ['N', 3, height, width]
    else:
        size = ['N', 3, 'H', 'W']
    mean, std = normalisation(segmentor)
    meta = segmentor.dataset_meta if hasattr(segmentor, 'dataset_meta') else None
    return {
        'input': {'name': INPUT_NAME, 'dtype': 'float32', 'layout': 'NCHW', 'shape': size,
                  'channels': 'RGB', 'range': '0-255, not normalised (the graph normalises)'},
        'output': {'name': OUTPUT_NAME, 'dtype': 'float32', 'layout': 'NCHW',
                   'shape': [size[0], classes, size[2], size[3]],
                   'meaning': 'per-class scores at the input size; argmax over dim 1'},
        'dynamic': bool(dynamic),
        'export_shape': [height, width],
        'mean': mean.flatten().tolist(),
        'std': std.flatten().tolist(),
        'classes': list(meta['classes']) if meta and meta.get('classes') else None,
        'config': config,
    }


def fixed_input_size(segmentor: nn.Module) -> Optional[tuple[int, int]]:
    """The one (H, W) the model runs at when a module pins it, else None.

    mmseg's BEiT (and MAE, its subclass) builds its relative position bias for
    the grid of ``img_size``; at another size it fails in PyTorch too. Its
    slide windows have that size, so a ``--dynamic`` export makes the batch
    dynamic and keeps height and width fixed.
    """
    from mmseg.models.backbones import BEiT
    for module in segmentor.modules():
        if isinstance(module, BEiT):
            return tuple(int(s) for s in module.img_size)
    return None


def _size_branches() -> dict:
    """mmseg / mmcv classes with a Python branch on the input size, and the
    class of this project that computes the same without it."""
    from mmcv.cnn.bricks.transformer import AdaptivePadding as MMCVAdaptivePadding
    from mmseg.models.backbones import SwinTransformer, VisionTransformer
    from mmseg.models.backbones.swin import ShiftWindowMSA
    from mmseg.models.utils.embed import AdaptivePadding
    vit = ('resizes its position embedding only when the grid differs from the stored '
           "one: use type='FusedVisionTransformer' (same arguments and weights; "
           "fused_attn=False is mmseg's computation exactly)")
    swin = ("crops its window padding only when there is some: use "
            "type='TwoPathwaySwinTransformer' with with_local_pathway=False (mmseg's Swin, "
            'same arguments and weights)')
    padding = ('pads only when the size is no multiple of the patch: '
               'depict.models.backbones.vit_base.size_generic_padding_(model) swaps in the '
               'form that always pads')
    return {VisionTransformer: vit, SwinTransformer: swin, ShiftWindowMSA: swin,
            AdaptivePadding: padding, MMCVAdaptivePadding: padding}


def check_size_generic(segmentor: nn.Module) -> None:
    """Refuses, before tracing, a model holding one of mmseg's modules whose
    Python branch on the input size a ``--dynamic`` export would freeze at the
    export size. The graph is then wrong at other sizes: mmseg's ViT exported
    at 64x64 fails in ONNX Runtime at 48x80 with a broadcast error that names
    no module.

    Raises:
        ValueError: naming the first such module and the class to use instead.
    """
    branches = _size_branches()
    for name, module in segmentor.named_modules():
        reason = branches.get(type(module))
        if reason is not None:
            raise ValueError(
                f'{name or "the model"} is mmseg\'s {type(module).__name__}, which {reason}. '
                'A --dynamic export would freeze that branch at the export size; use the '
                'class above, or export without --dynamic (the graph then takes --shape '
                'only).')


def export_onnx(segmentor: nn.Module, out: str, *, shape: Sequence[int] = (512, 512),
                dynamic: bool = False, opset: Optional[int] = None,
                config: Optional[str] = None) -> dict:
    """Exports ``segmentor``'s window forward (:class:`SegmentorWindow`) to ``out``.

    ``torch.export`` traces the model (non-strict), then PyTorch's ONNX
    exporter converts the program. With ``dynamic`` the batch, height and width
    are symbolic; a model that pins one of them to the export value makes
    ``torch.export`` raise. A branch on a derived size (a token count) can
    still be frozen silently: :func:`verify_onnx` at a second size catches it.

    Args:
        segmentor: An mmseg segmentor (put in eval mode here).
        out: The ``.onnx`` file to write (one file; the weights inside).
        shape: (H, W) traced at; with ``dynamic=False`` the only size accepted.
        dynamic: Symbolic batch, height and width (the batch only for a
            fixed-size backbone, :func:`fixed_input_size`).
        opset: ONNX opset (None: the exporter's default).
        config: The config path, recorded in the metadata.

    Returns:
        The contract written into the model's metadata.
    """
    _require('onnx', 'export to ONNX')
    _require('onnxscript', 'export to ONNX')
    fixed = None
    if dynamic:
        check_size_generic(segmentor)
        fixed = fixed_input_size(segmentor)
        if fixed is not None and tuple(int(s) for s in shape) != fixed:
            raise ValueError(
                f'the backbone runs at {fixed[0]}x{fixed[1]} only (mmseg\'s BEiT builds its '
                'relative position bias for img_size, in PyTorch too), not at '
                f'{shape[0]}x{shape[1]}: export with --shape {fixed[0]} {fixed[1]}; '
                '--dynamic then makes the batch dynamic, height and width stay fixed.')
    segmentor.eval()
    window = SegmentorWindow(segmentor).eval()
    # Traced with a batch of 2 when dynamic: torch.export specialises sizes 0 and 1.
    example = _example(2 if dynamic else 1, shape)
    dynamic_shapes = None
    if dynamic:
        dim = torch.export.Dim.DYNAMIC
        dynamic_shapes = {'image': {0: dim} if fixed else {0: dim, 2: dim, 3: dim}}
    with torch.no_grad(), _size_oblivious(dynamic):
        program = torch.export.export(window, (example, ), dynamic_shapes=dynamic_shapes,
                                      strict=False)
    onnx_program = torch.onnx.export(program, (example, ), input_names=[INPUT_NAME],
                                     output_names=[OUTPUT_NAME], opset_version=opset,
                                     dynamo=True, external_data=False)
    info = contract(segmentor, dynamic=dynamic, shape=shape, config=config)
    model = onnx_program.model_proto
    if dynamic:
        _name_dynamic_dims(model, ('N', None, None, None) if fixed else ('N', None, 'H', 'W'))
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(info)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    import onnx
    onnx.save_model(model, out)
    return info


def _size_oblivious(dynamic: bool):
    """Traces sizes without asking whether a derived size is 0 or 1.

    By default the tracer branches on every derived size that happens to be 1
    at the export size (``torch.fx.experimental._config.backed_size_oblivious``
    is torch.export's switch against it). Swin exported at 64x64 with window 2
    has one window per axis in its last stage: the default trace then ran for
    over ten minutes (killed at 600 s), the size-oblivious one takes 25 s, and
    both match PyTorch at every size tried. Without the switch (an older
    torch), the export is traced as before.
    """
    from torch.fx.experimental import _config as config
    if not dynamic or not hasattr(config, 'backed_size_oblivious'):
        return contextlib.nullcontext()
    return config.patch(backed_size_oblivious=True)


def _name_dynamic_dims(model, names: Sequence[Optional[str]]) -> None:
    """Renames the exporter's symbols (``s40``...) of the input's dims to
    ``names`` (N, H, W) wherever they occur in the graph's shapes."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    rename = {dim.dim_param: name for dim, name in zip(dims, names)
              if name and dim.dim_param}
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in rename:
                dim.dim_param = rename[dim.dim_param]


def input_shape(info: dict) -> list:
    """The contract's input shape, (N, 3, H, W): a name is a dynamic dimension,
    a number a fixed one. A contract without it is all dynamic or all fixed,
    as its ``dynamic`` says."""
    default = ['N', 3, 'H', 'W'] if info['dynamic'] else [1, 3, *info['export_shape']]
    return info.get('input', {}).get('shape', default)


def read_contract(path: str) -> dict:
    """The ``depict`` metadata of an exported model (:func:`contract`)."""
    onnx = _require('onnx', 'read an ONNX model')
    model = onnx.load(path, load_external_data=False)
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            return json.loads(entry.value)
    raise ValueError(f'{path} has no {METADATA_KEY!r} metadata: it was not written by '
                     'tools/deployment/pytorch2onnx.py; export it with that tool.')


def onnx_session(path: str, threads: Optional[int] = None):
    """An ONNX Runtime CPU session of ``path`` (``threads``: intra-op threads)."""
    ort = _require('onnxruntime', 'run an ONNX model')
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])


class VerifyResult(dict):
    """One verified shape: ``shape``, ``max_rel`` and ``agreement``."""

    @property
    def ok(self) -> bool:
        return self['max_rel'] <= MAX_RELATIVE_ERROR and self['agreement'] >= MIN_ARGMAX_AGREEMENT


def compare(onnx_logits: np.ndarray, torch_logits: np.ndarray) -> tuple[float, float]:
    """Max |ONNX - PyTorch| relative to max |PyTorch|, and arg max agreement."""
    if onnx_logits.shape != torch_logits.shape:
        raise AssertionError(f'ONNX output shape {onnx_logits.shape} != PyTorch '
                             f'{torch_logits.shape}')
    scale = float(np.abs(torch_logits).max()) or 1.0
    max_rel = float(np.abs(onnx_logits - torch_logits).max()) / scale
    agreement = float((onnx_logits.argmax(1) == torch_logits.argmax(1)).mean())
    return max_rel, agreement


def verify_onnx(path: str, segmentor: nn.Module, shapes: Sequence[Sequence[int]], *,
                batch: int = 1, session=None) -> list[VerifyResult]:
    """ONNX Runtime against PyTorch on random images of each (H, W) in ``shapes``."""
    session = session or onnx_session(path)
    window = SegmentorWindow(segmentor.eval()).eval()
    results = []
    for index, shape in enumerate(shapes):
        image = _example(batch, shape, seed=index + 1)
        with torch.no_grad():
            expected = window(image).numpy()
        actual = session.run([OUTPUT_NAME], {INPUT_NAME: image.numpy()})[0]
        max_rel, agreement = compare(actual, expected)
        results.append(VerifyResult(shape=tuple(int(s) for s in shape), max_rel=max_rel,
                                    agreement=agreement))
    return results


def without_weight_loading(model_cfg) -> None:
    """Turns off, in place, every weight download / file load a model config
    makes at construction (``pretrained`` flags, ``checkpoint_file``,
    ``init_cfg`` of type ``Pretrained``): the checkpoint or the ONNX file
    supplies the weights, and a deployment machine may be offline."""
    if isinstance(model_cfg, dict):
        for key in list(model_cfg):
            value = model_cfg[key]
            if key == 'pretrained' and value not in (None, False):
                model_cfg[key] = False if isinstance(value, bool) else None
            elif key == 'checkpoint_file':
                model_cfg[key] = None
            elif key == 'init_cfg' and isinstance(value, dict) and \
                    value.get('type') == 'Pretrained':
                model_cfg[key] = None
            else:
                without_weight_loading(value)
    elif isinstance(model_cfg, (list, tuple)):
        for item in model_cfg:
            without_weight_loading(item)


def load_segmentor(config: str, checkpoint: Optional[str], *,
                   cfg_options: Optional[dict] = None) -> nn.Module:
    """The config's segmentor on the CPU in eval mode, weights from ``checkpoint``
    (``None``: the config's own initialisation, for tests), class names from
    the checkpoint's ``dataset_meta``."""
    from mmseg.apis import init_model

    from depict.utils.config import load_config
    cfg = load_config(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    without_weight_loading(cfg.model)
    return init_model(cfg, checkpoint, device='cpu').eval()


def use_onnx_window(segmentor: nn.Module, path: str, *, threads: Optional[int] = None) -> dict:
    """Makes ``segmentor`` run its windows through the ONNX model at ``path``.

    Everything around the window stays the config's: the data preprocessor's
    channel flip and padding, whole or slide inference (windows batched or
    not), test-time augmentation and the resize to the original image. The
    preprocessor's normalisation is switched off (the graph normalises), and
    ``encode_decode`` becomes an ONNX Runtime call. The backbone's PyTorch
    weights are dropped (never read again).

    Raises:
        ValueError: The file's normalisation differs from the config's (it was
            exported from another config), or a window's size or batch is not
            one a static export accepts.

    Returns:
        The file's contract (:func:`read_contract`).
    """
    info = read_contract(path)
    mean, std = normalisation(segmentor)
    if not (np.allclose(info['mean'], mean.flatten().tolist())
            and np.allclose(info['std'], std.flatten().tolist())):
        raise ValueError(f"{path} normalises with mean {info['mean']} / std {info['std']}, "
                         f'the config with {mean.flatten().tolist()} / '
                         f'{std.flatten().tolist()}: test it with the config it was exported '
                         'from.')
    session = onnx_session(path, threads=threads)
    spec = input_shape(info)
    static = None if isinstance(spec[2], str) else tuple(info['export_shape'])
    one_by_one = not isinstance(spec[0], str)
    segmentor.data_preprocessor._enable_normalize = False
    # The PyTorch backbone never runs again; free its memory.
    segmentor.backbone = nn.Module()

    def encode_decode(inputs: Tensor, batch_img_metas: list) -> Tensor:
        if static is not None and tuple(inputs.shape[-2:]) != static:
            raise ValueError(f'{path} was exported for {static[0]}x{static[1]} windows only, '
                             f'this one is {inputs.shape[-2]}x{inputs.shape[-1]}: export '
                             'with --dynamic (or --shape matching the window; a fixed-size '
                             'backbone runs at its img_size only).')
        images = inputs.detach().float().cpu().numpy()
        # A static export takes one image: run a batch of windows one by one.
        chunks = [images[i:i + 1] for i in range(len(images))] if one_by_one else [images]
        logits = [session.run([OUTPUT_NAME], {INPUT_NAME: chunk})[0] for chunk in chunks]
        return torch.from_numpy(np.concatenate(logits)).to(inputs.device)

    segmentor.encode_decode = encode_decode
    return info
