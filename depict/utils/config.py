"""Config loading for our tools, and resolved-config dumps to compare configs."""
import glob
import json
import os
import os.path as osp
from typing import Any, List

from mmengine.config import Config

__all__ = ['load_config', 'resolved_config', 'dump_leaf_configs', 'compare_config_dumps']


def load_config(path: str) -> Config:
    """``Config.fromfile(path)`` whose text dumps are not re-formatted by yapf.

    mmengine formats ``Config.pretty_text`` with yapf, and the Runner calls it
    when it logs the config, dumps it to the work dir and on every checkpoint
    save (the checkpoint's ``meta.cfg``). Profiling a toy training run showed
    yapf taking most of its time (1.5-5 s per call on 2 cores, six calls per
    run). ``Config.fromfile(..., format_python_code=False)`` would turn it off,
    but mmengine 0.10.7 drops that argument for text configs (it reaches only
    the lazy-import branch), so the flag is set on the instance. The
    unformatted text is the same Python: ``Config.fromstring`` gives back an
    equal config (tests/test_utils/test_config.py).
    """
    cfg = Config.fromfile(path)
    object.__setattr__(cfg, '_format_python_code', False)
    return cfg


def _plain(value: Any) -> Any:
    """A JSON-able copy: tuples become lists, so a dump compares by value."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def resolved_config(path: str) -> dict:
    """The keys of a config that the Runner and tools read, fully resolved.

    Names starting with an underscore are config-file helpers (mmengine keeps
    them in the dict; the Runner never reads them) and are left out. The
    config's custom imports are not imported: types stay strings.
    """
    cfg = Config.fromfile(path, import_custom_modules=False)
    return {k: _plain(v) for k, v in sorted(cfg.to_dict().items()) if not k.startswith('_')}


def dump_leaf_configs(configs_dir: str, out_dir: str) -> List[str]:
    """Writes ``out_dir/<leaf>.json`` for every leaf under ``configs_dir``."""
    leaves = sorted(p for p in glob.glob(osp.join(configs_dir, '**', '*.py'), recursive=True)
                    if '_base_' not in osp.relpath(p, configs_dir).split(os.sep))
    written = []
    for leaf in leaves:
        target = osp.join(out_dir, osp.relpath(leaf, configs_dir)[:-3] + '.json')
        os.makedirs(osp.dirname(target), exist_ok=True)
        with open(target, 'w') as f:
            json.dump(resolved_config(leaf), f, indent=1, sort_keys=True)
        written.append(target)
    return written


def _differences(before: Any, after: Any, where: str) -> List[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        lines = []
        for key in sorted(set(before) | set(after)):
            here = f'{where}.{key}' if where else key
            if key not in after:
                lines.append(f'{here}: removed (was {before[key]!r})')
            elif key not in before:
                lines.append(f'{here}: added ({after[key]!r})')
            else:
                lines.extend(_differences(before[key], after[key], here))
        return lines
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [line for i, (b, a) in enumerate(zip(before, after))
                for line in _differences(b, a, f'{where}[{i}]')]
    return [] if before == after else [f'{where}: {before!r} -> {after!r}']


def compare_config_dumps(before_dir: str, after_dir: str) -> List[str]:
    """One line per differing key (``leaf: key.path: old -> new``) between two dumps."""
    def jsons(root):
        return {osp.relpath(p, root) for p in glob.glob(osp.join(root, '**', '*.json'),
                                                          recursive=True)}
    before, after = jsons(before_dir), jsons(after_dir)
    lines = [f'{leaf}: leaf removed' for leaf in sorted(before - after)]
    lines += [f'{leaf}: leaf added' for leaf in sorted(after - before)]
    for leaf in sorted(before & after):
        with open(osp.join(before_dir, leaf)) as f:
            old = json.load(f)
        with open(osp.join(after_dir, leaf)) as f:
            new = json.load(f)
        lines += [f'{leaf}: {line}' for line in _differences(old, new, '')]
    return lines
