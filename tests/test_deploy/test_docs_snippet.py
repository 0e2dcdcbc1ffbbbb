"""docs/deployment.md's plain-ONNX-Runtime snippet, run as a user would: in a
fresh interpreter where mmseg, mmcv, mmengine, torch and depict cannot be
imported, on a ``--dynamic`` export of a toy model and a non-square image; its
label map must be PyTorch's prediction."""
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import torch
from PIL import Image

from depict.deploy.onnx import SegmentorWindow, export_onnx

from deploy_variants import REPO, build

DOC = osp.join(REPO, 'docs', 'deployment.md')
MARKER = '<!-- the block below is run by tests/test_deploy/test_docs_snippet.py -->'
#: Run before the snippet: every package the snippet must not need is unimportable.
BLOCK_IMPORTS = ('import sys\n'
                 "for name in ('torch', 'mmseg', 'mmcv', 'mmengine', 'depict', 'timm'):\n"
                 '    sys.modules[name] = None\n')


def snippet() -> str:
    text = open(DOC, encoding='utf-8').read()
    assert MARKER in text, f'{DOC} lost the marker of its tested snippet'
    block = re.search(r'```python\n(.*?)```', text[text.index(MARKER):], re.S).group(1)
    assert len(block.strip().splitlines()) <= 10, 'the docs promise ten lines'
    return block


def test_docs_snippet_runs_without_mmseg_and_matches_pytorch(tmp_path):
    model = build('depict-sa', 'toy')
    export_onnx(model, str(tmp_path / 'model.onnx'), shape=(64, 64), dynamic=True)
    rgb = np.random.default_rng(0).integers(0, 256, size=(70, 90, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / 'demo.png')
    result = subprocess.run([sys.executable, '-c', BLOCK_IMPORTS + snippet()], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    labels = np.asarray(Image.open(tmp_path / 'labels.png'))
    image = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()  # (1, 3, H, W) RGB 0-255
    with torch.no_grad():
        expected = SegmentorWindow(model)(image)[0].argmax(0).numpy()
    assert labels.shape == (70, 90)
    assert (labels == expected).mean() >= 0.999
