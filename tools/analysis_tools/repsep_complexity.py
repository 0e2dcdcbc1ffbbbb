"""Parameters and FLOPs of every representation-separation component.

``python tools/analysis_tools/repsep_complexity.py CONFIG [--shape H W] [--json OUT]``

Counts, for a config whose model is an ``EncoderDecoder`` with a
``TwoPathwayVisionTransformer`` (or plain ``VisionTransformer``) backbone and a
``RepSepHead``:

* parameters per component: transformer pathway, local pathway (LSBs +
  fusion), Segmenter mask transformer, SASM, DCA (inference part), DCA
  auxiliary branch (training only);
* FLOPs (mmengine's fvcore-style counter, one multiply-accumulate = one FLOP,
  through :func:`depict.utils.flops.flop_analyzer`) of one H×W window for the inference graph
  (``EncoderDecoder`` in tensor mode, i.e. backbone + ``RepSepHead.forward``)
  and for the training graph (the same plus the auxiliary branch: attention
  logits, region pooling and projector, as run by ``RepSepHead.loss``); per-
  component FLOPs of the inference graph from the same analyzer.

The analyzer counts ``F.scaled_dot_product_attention`` (mmengine alone skips
it, and the SDPA path of DCA would count less than its explicit-logits
training path). Depict registers itself through the config's ``custom_imports``.
"""
import argparse
import json
import logging

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from torch import nn

COMPONENTS = {
    'transformer pathway (ViT)': ('backbone', ),
    'local pathway (LSBs + fusion)': ('backbone.local_pathway', ),
    'mask transformer (Segmenter part)': ('decode_head', ),
    'SASM': ('decode_head.sasm', ),
    'DCA (inference part)': ('decode_head.dca_layers', 'decode_head.dca_norm'),
    'DCA auxiliary branch (training only)': ('decode_head.region_proj', ),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input window (default: the config\'s crop size)')
    parser.add_argument('--json', help='also write the numbers to this JSON file')
    return parser.parse_args()


def component_of(name: str) -> str:
    """The most specific component whose prefix matches a parameter/module name."""
    best, best_len = None, -1
    for component, prefixes in COMPONENTS.items():
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + '.')) and len(prefix) > best_len:
                best, best_len = component, len(prefix)
    return best


class InferenceGraph(nn.Module):
    """``EncoderDecoder._forward`` (backbone + head forward), with the head
    called as a module so that the analyzer attributes its own ops to it
    (``_forward`` calls ``decode_head.forward`` directly, which leaves the mask
    product unattributed)."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.segmentor.decode_head(self.segmentor.extract_feat(img))


class TrainGraph(nn.Module):
    """Backbone + ``RepSepHead`` decoding with the auxiliary branch and its losses."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, img: torch.Tensor, labels: torch.Tensor) -> tuple:
        head = self.segmentor.decode_head
        masks, aux = head._decode(self.segmentor.extract_feat(img), with_aux=True)
        if aux is None:
            return (masks, )
        return (masks, *head.aux_losses(aux, labels).values())


def main() -> None:
    args = parse_args()
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    cfg = Config.fromfile(args.config)  # imports depict via custom_imports
    from depict.utils.flops import flop_analyzer
    from mmseg.registry import MODELS
    cfg.model.pretrained = None
    cfg.model.backbone.pop('init_cfg', None)
    height, width = args.shape or cfg.model.data_preprocessor.get('size') or (512, 512)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    model.eval()  # mmseg's ViT.train() returns None: do not chain

    params = dict.fromkeys(COMPONENTS, 0)
    for name, param in model.named_parameters():
        component = component_of(name)
        if component is not None:
            params[component] += param.numel()

    img = torch.randn(1, 3, height, width)
    labels = torch.randint(0, model.decode_head.num_classes, (1, 1, height, width))
    with torch.no_grad():
        inference_analyzer = flop_analyzer(InferenceGraph(model), (img, ))
        inference = inference_analyzer.total()
        training = flop_analyzer(TrainGraph(model), (img, labels)).total()
        by_module = inference_analyzer.by_module()
    # Names relative to the segmentor.
    by_module = {k[len('segmentor.'):]: v for k, v in by_module.items()
                 if k.startswith('segmentor.')}
    # by_module counts a module with all its descendants: a component's own
    # FLOPs are its prefixes' totals minus those of the components nested in it.
    flops = dict.fromkeys(COMPONENTS, 0)
    for component, prefixes in COMPONENTS.items():
        for prefix in prefixes:
            flops[component] += by_module.get(prefix, 0)
            for other, nested in COMPONENTS.items():
                if other != component:
                    flops[component] -= sum(by_module.get(q, 0) for q in nested
                                            if q.startswith(prefix + '.'))
    flops['DCA auxiliary branch (training only)'] = training - inference

    print(f'{args.config}  window {height}x{width}, '
          f'{model.decode_head.num_classes} classes')
    print(f'{"component":40s} {"params (M)":>11s} {"GFLOPs":>10s}')
    for component in COMPONENTS:
        print(f'{component:40s} {params[component] / 1e6:11.3f} {flops[component] / 1e9:10.4f}')
    total = sum(params.values())
    print(f'{"total":40s} {total / 1e6:11.3f}')
    inference_parts = sum(v for k, v in flops.items() if 'training only' not in k)
    print(f'inference graph: {inference / 1e9:.4f} GFLOPs (components: '
          f'{inference_parts / 1e9:.4f}); training graph: {training / 1e9:.4f} GFLOPs '
          '(difference: the auxiliary branch)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(config=args.config, window=[height, width], params=params,
                           flops=flops, inference_flops=inference, training_flops=training),
                      f, indent=2)


if __name__ == '__main__':
    main()
