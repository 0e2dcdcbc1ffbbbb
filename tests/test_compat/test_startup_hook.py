"""The startup hook applies the mmcv.ops fallback to plain mmseg, without depict.

Each check runs a fresh interpreter whose site directory holds the installed
``depict_mmcv_hook.pth`` (``site.addsitedir`` processes it as at startup).
"""
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest

import depict_mmcv_hook
from depict_mmcv_hook import PTH_LINE, PTH_NAME

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture
def site_dir(tmp_path) -> str:
    """A site directory holding the startup file, as pip installs it."""
    site = tmp_path / 'site'
    site.mkdir()
    (site / PTH_NAME).write_text(PTH_LINE)
    return str(site)


def run_python(code: str, site: str, *pythonpath: str) -> subprocess.CompletedProcess:
    """``code`` in a new interpreter after ``site.addsitedir(site)``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*pythonpath, REPO]),
               OMP_NUM_THREADS='1')
    prelude = f'import site, sys\nsite.addsitedir({site!r})\n'
    # cwd: not the repository, whose depict would come first on sys.path.
    return subprocess.run([sys.executable, '-c', prelude + textwrap.dedent(code)],
                          env=env, capture_output=True, text=True, timeout=300,
                          cwd=osp.dirname(site))


def test_plain_mmseg_imports_without_depict(site_dir):
    result = run_python('''
        assert 'torch' not in sys.modules, 'the startup hook must not import torch'
        from mmseg.apis import init_model  # needs mmcv.ops
        import mmseg.models
        assert 'depict' not in sys.modules, 'the hook must not import depict'
        import mmcv.ops
        from depict.compat.mmcv_ops import mmcv_ops_are_fallback
        assert mmcv_ops_are_fallback()
        assert callable(mmcv.ops.point_sample)
        import depict  # a later import reuses the same stand-in
        assert depict.compat.mmcv_ops.mmcv_ops_are_fallback()
        print('OK')
    ''', site_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == 'OK'
    # mmcv-lite's deformable-attention import warning is filtered (irrelevant here).
    assert 'MultiScaleDeformableAttention' not in result.stderr


def test_without_the_hook_plain_mmseg_fails(tmp_path):
    """What the hook fixes (so the test above tests the hook, not the setup).

    ``-S``: no ``site`` processing, so no ``.pth`` file runs, not even the hook
    that an installed depict put in this environment's site-packages; the
    site-packages folders are put on ``sys.path`` by hand.
    """
    import site
    code = (f'import sys\nsys.path += {site.getsitepackages()!r}\n'
            'from mmseg.apis import init_model\n')
    result = subprocess.run([sys.executable, '-S', '-c', code], capture_output=True, text=True,
                            timeout=300, cwd=str(tmp_path),
                            env=dict(os.environ, PYTHONPATH='', OMP_NUM_THREADS='1'))
    assert result.returncode != 0 and "No module named 'mmcv._ext'" in result.stderr


def test_compiled_mmcv_is_left_alone(site_dir, tmp_path):
    fake = tmp_path / 'fake'
    (fake / 'mmcv' / 'ops').mkdir(parents=True)
    (fake / 'mmcv' / '__init__.py').write_text('')
    (fake / 'mmcv' / '_ext.py').write_text('')  # "compiled" ops present
    (fake / 'mmcv' / 'ops' / '__init__.py').write_text('COMPILED = True\n')
    result = run_python('''
        import mmcv.ops
        assert mmcv.ops.COMPILED
        assert 'depict.compat.mmcv_ops' not in sys.modules
        print('OK')
    ''', site_dir, str(fake))
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_broken_compat_layer_warns_instead_of_crashing(site_dir, tmp_path):
    broken = tmp_path / 'broken'
    (broken / 'depict' / 'compat').mkdir(parents=True)
    (broken / 'depict' / '__init__.py').write_text('')
    shutil.copy(osp.join(REPO, 'depict', 'compat', 'startup_hook.py'),
                broken / 'depict' / 'compat' / 'startup_hook.py')
    (broken / 'depict' / 'compat' / 'mmcv_ops.py').write_text('raise OSError("boom")\n')
    result = run_python('''
        print('started')
        try:
            import mmcv.ops
        except ImportError as err:
            print('ImportError', err)
    ''', site_dir, str(broken))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith('started')
    assert 'could not apply the mmcv.ops fallback (OSError: boom)' in result.stderr


def test_install_writes_the_startup_file(tmp_path):
    """Regular and editable (PEP 660) wheels put the .pth at the wheel root,
    which pip unpacks into site-packages (CI installs with ``pip install -e``)."""
    src = tmp_path / 'src'
    src.mkdir()
    for name in ('setup.py', 'README.md', 'requirements.txt', 'depict_mmcv_hook.py'):
        shutil.copy(osp.join(REPO, name), src / name)
    shutil.copytree(osp.join(REPO, 'depict'), src / 'depict',
                    ignore=shutil.ignore_patterns('__pycache__'))
    out = tmp_path / 'dist'
    out.mkdir()
    code = ('import sys; from setuptools import build_meta as b; '
            f'w = b.build_wheel({str(out)!r}); e = b.build_editable({str(out)!r}); '
            'print("WHEELS", w, e)')
    result = subprocess.run([sys.executable, '-c', code], cwd=src, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    wheels = [line for line in result.stdout.splitlines() if line.startswith('WHEELS')]
    wheels = wheels[-1].split()[1:]
    assert len(wheels) == 2 and 'editable' in wheels[1]
    for wheel in wheels:
        with zipfile.ZipFile(out / wheel) as archive:
            assert archive.read(PTH_NAME).decode() == PTH_LINE, wheel
            assert not any(name.startswith('depict_mmcv_hook.pth/') or
                           '.data/' in name for name in archive.namelist())
    assert depict_mmcv_hook.__file__.startswith(REPO)
