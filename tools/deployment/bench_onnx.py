"""ONNX Runtime against PyTorch eager on the CPU, one window, every decoder:
``python tools/deployment/bench_onnx.py [--setting vit-b16-512 toy-64] [--threads 1 2]``.

For each decoder (the ViT-B/16 ADE20K paper configs at 512x512, 150 classes,
EoMT as its ADE20K config on DINOv2-B, and the toy configs at 64x64, 8
classes) the model is built with random
weights (speed does not depend on them), its window forward (normalisation,
backbone, head, resize to the window; :class:`depict.deploy.SegmentorWindow`)
exported to ONNX at the window size (static shape), and its decode head alone
(features in, logits at the window size out) exported too. Then, for each
thread count, the four are timed on the same image, interleaved repeat by
repeat (PyTorch eager model, ONNX model, PyTorch head, ONNX head) so that a
load change on a shared machine hits all of them alike:

* ``median``: median seconds of one window (batch 1) after ``--warmup`` calls
  (and the fastest call, the least disturbed by other processes);
* ``decoder share``: median head time / median model time, per runtime;
* ``ORT / eager``: the ratio of the two medians.

PyTorch runs with ``torch.set_num_threads(n)``, ONNX Runtime with
``intra_op_num_threads=n`` (and one inter-op thread). The table goes to stdout
(Markdown), everything to ``--out`` as JSON. Needs ``pip install -e ".[deploy]"``.
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import sys
import tempfile
import time

import torch
from torch import nn

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

#: setting -> (decoder -> (config, model overrides)), window size
TOY = {
    'segmenter': 'configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py',
    'depict-sa': 'configs/depict/depict-sa_vit-toy_1xb8-2k_toy-64x64.py',
    'depict-ca': 'configs/depict/depict-ca_vit-toy_1xb8-2k_toy-64x64.py',
    'atm': 'configs/segvit/segvit_vit-toy_1xb8-2k_toy-64x64.py',
    'atm-shrunk': 'configs/segvit/segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py',
    'repsep': 'configs/repsep/repsep_vit-toy_1xb8-2k_toy-64x64.py',
    'eomt': 'configs/eomt/eomt_vit-toy_1xb8-2k_toy-64x64.py',
}
#: EoMT has no ViT-B config of its own (the paper's are ViT-L): the ADE20K
#: EoMT-L config on DINOv2-B (same patch 16, 12 blocks, the last 4 with queries).
EOMT_VIT_B = ('configs/eomt/eomt_dinov2-l16_4xb4-39k_ade20k-512x512.py',
              dict(backbone=dict(model_name='vit_base_patch14_reg4_dinov2.lvd142m',
                                 out_indices=(11, )),
                   decode_head=dict(in_channels=768)))
SETTINGS = ('vit-b16-512', 'toy-64')


def configs(setting: str) -> tuple[dict, tuple[int, int]]:
    if setting == 'toy-64':
        return {name: (path, {}) for name, path in TOY.items()}, (64, 64)
    from depict.utils.benchmark import DECODER_CONFIGS, decoder_config
    decoders = {name: decoder_config(name, 768) for name in DECODER_CONFIGS}
    return dict(decoders, eomt=EOMT_VIT_B), (512, 512)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='ONNX Runtime vs PyTorch eager, CPU')
    parser.add_argument('--setting', nargs='+', default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument('--decoders', nargs='+', default=None,
                        help='subset of decoders (default: all)')
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--out', help='write all results as JSON here')
    parser.add_argument('--table', metavar='JSON',
                        help='only print the tables of an earlier --out file')
    return parser.parse_args(argv)


class HeadWindow(nn.Module):
    """The decode head alone: backbone features -> logits at the window size."""

    def __init__(self, segmentor: nn.Module, size: tuple[int, int]) -> None:
        super().__init__()
        self.head, self.size, self.test_cfg = segmentor.decode_head, size, segmentor.test_cfg

    def forward(self, *features: torch.Tensor) -> torch.Tensor:
        metas = [dict(img_shape=self.size, ori_shape=self.size, pad_shape=self.size)]
        return self.head.predict(list(features), metas, self.test_cfg)


class EoMTHeadWindow(HeadWindow):
    """EoMT's head alone: the last block's queries and patch map -> logits.

    EoMT's queries run inside the encoder's last blocks (counted as encoder
    here); its head is the readout (class and mask MLPs, upscaling) and the
    class-weighted masks at the window size.
    """

    def forward(self, queries: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
        from depict.models.backbones.eomt_vit import EoMTFeatures
        metas = [dict(img_shape=self.size, ori_shape=self.size, pad_shape=self.size)]
        features = EoMTFeatures(queries=[queries], patches=[patches], predictions=[None])
        return self.head.predict(features, metas, self.test_cfg)


def head_inputs(segmentor: nn.Module, inputs: torch.Tensor, size) -> tuple:
    """The decode head's module alone and the backbone features it reads."""
    from depict.models.backbones.eomt_vit import EoMTFeatures
    features = segmentor.extract_feat(inputs)
    if isinstance(features, EoMTFeatures):
        return EoMTHeadWindow(segmentor, size).eval(), (features.queries[-1],
                                                        features.patches[-1])
    return HeadWindow(segmentor, size).eval(), tuple(features)


def build(config: str, overrides: dict) -> nn.Module:
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    from depict.deploy.onnx import without_weight_loading
    from depict.utils.config import load_config
    cfg = load_config(osp.join(REPO, config))
    if overrides:
        cfg.merge_from_dict(dict(model=overrides))
    without_weight_loading(cfg.model)
    cfg.model.pop('pretrained', None)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    return model.eval()


def export(module: nn.Module, inputs: tuple, path: str, names: list[str]) -> None:
    with torch.no_grad():
        program = torch.export.export(module, inputs, strict=False)
    onnx_program = torch.onnx.export(program, inputs, input_names=names,
                                     output_names=['logits'], dynamo=True,
                                     external_data=False)
    onnx_program.save(path)


def bench_decoder(name: str, config: str, overrides: dict, size: tuple[int, int],
                  threads: list[int], repeat: int, warmup: int, tmp: str) -> list[dict]:
    from depict.deploy.onnx import SegmentorWindow, onnx_session
    torch.manual_seed(0)
    segmentor = build(config, overrides)
    window = SegmentorWindow(segmentor).eval()
    image = torch.rand(1, 3, *size) * 255
    with torch.no_grad():
        head, features = head_inputs(segmentor, (image - window.mean) / window.std, size)
    model_path, head_path = osp.join(tmp, f'{name}.onnx'), osp.join(tmp, f'{name}-head.onnx')
    export(window, (image, ), model_path, ['image'])
    feature_names = [f'feature{i}' for i in range(len(features))]
    export(head, features, head_path, feature_names)
    rows = []
    for count in threads:
        torch.set_num_threads(count)
        sessions = {'model': onnx_session(model_path, threads=count),
                    'head': onnx_session(head_path, threads=count)}
        feeds = {'model': {'image': image.numpy()},
                 'head': dict(zip(feature_names, (f.numpy() for f in features)))}
        calls = {
            ('eager', 'model'): lambda: window(image),
            ('onnxruntime', 'model'): lambda: sessions['model'].run(None, feeds['model']),
            ('eager', 'head'): lambda: head(*features),
            ('onnxruntime', 'head'): lambda: sessions['head'].run(None, feeds['head']),
        }
        times = {key: [] for key in calls}
        with torch.no_grad():
            for step in range(warmup + repeat):
                for key, call in calls.items():  # interleaved: the same load for all four
                    start = time.perf_counter()
                    call()
                    if step >= warmup:
                        times[key].append(time.perf_counter() - start)
        median = {key: statistics.median(values) for key, values in times.items()}
        for runtime in ('eager', 'onnxruntime'):
            rows.append(dict(decoder=name, threads=count, runtime=runtime,
                             median_s=median[(runtime, 'model')],
                             head_median_s=median[(runtime, 'head')],
                             decoder_share=median[(runtime, 'head')] / median[(runtime, 'model')],
                             times_s=times[(runtime, 'model')],
                             head_times_s=times[(runtime, 'head')]))
        eager, ort = rows[-2], rows[-1]
        ort['ort_over_eager'] = ort['median_s'] / eager['median_s']
        print(f"  {name} @ {count} thread(s): eager {eager['median_s'] * 1e3:.1f} ms, "
              f"ORT {ort['median_s'] * 1e3:.1f} ms", flush=True)
    return rows


def table(results: dict) -> str:
    """Markdown tables: median (and fastest) ms per window, ORT / eager of the
    medians, the decoder's share of the median window time per runtime."""
    lines = []
    for setting, rows in results.items():
        lines += [f'\n{setting} (one window, batch 1; median ms, fastest in brackets; '
                  'decoder share = median head / median model)\n',
                  '| decoder | threads | eager ms | ORT ms | ORT / eager | decoder share eager '
                  '| decoder share ORT |', '|---|---|---|---|---|---|---|']
        for eager, ort in zip(rows[::2], rows[1::2]):
            lines.append(f"| {eager['decoder']} | {eager['threads']} | "
                         f"{eager['median_s'] * 1e3:.1f} ({min(eager['times_s']) * 1e3:.1f}) | "
                         f"{ort['median_s'] * 1e3:.1f} ({min(ort['times_s']) * 1e3:.1f}) | "
                         f"{ort['ort_over_eager']:.2f} | {100 * eager['decoder_share']:.1f} % | "
                         f"{100 * ort['decoder_share']:.1f} % |")
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.table:
        with open(args.table) as f:
            results = json.load(f)['results']
        print(table(results))
        return results
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    import depict  # noqa: F401  (registers depict's modules)
    import logging
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for setting in args.setting:
            decoders, size = configs(setting)
            results[setting] = []
            print(f'{setting}: {size[0]}x{size[1]}', flush=True)
            for name, (config, overrides) in decoders.items():
                if args.decoders and name not in args.decoders:
                    continue
                results[setting] += bench_decoder(name, config, overrides, size, args.threads,
                                                  args.repeat, args.warmup, tmp)
    print(table(results))
    if args.out:
        meta = dict(torch=torch.__version__, machine=platform.machine(),
                    processor=platform.processor(), cpus=os.cpu_count(),
                    load_average=os.getloadavg(), repeat=args.repeat, warmup=args.warmup)
        import onnxruntime
        meta['onnxruntime'] = onnxruntime.__version__
        with open(args.out, 'w') as f:
            json.dump(dict(meta=meta, results=results), f, indent=1)
    return results


if __name__ == '__main__':
    main()
