"""tools/analysis_tools/count_params.py prints whole model / backbone / head counts."""
import os.path as osp
import re

from conftest import PYTHON, REPO, run_tool

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'count_params.py')
CONFIG = osp.join(REPO, 'configs', 'depict', 'depict-sa_vit-toy_1xb8-2k_toy-64x64.py')


def test_count_params_on_toy_config():
    out = run_tool([PYTHON, TOOL, CONFIG], fork=True).stdout
    counts = {m.group(1): int(m.group(2).replace(',', ''))
              for m in re.finditer(r'^(\w+)\s+([\d,]+)\s+\(', out, re.M)}
    assert counts['model'] == counts['backbone'] + counts['decode_head']
    # 3 MSSA layers (P: 64x64, η, LN) + LN + LN_C + E (8x64) at the toy width.
    assert counts['decode_head'] == 3 * (64 * 64 + 1 + 128) + 128 + 16 + 8 * 64
