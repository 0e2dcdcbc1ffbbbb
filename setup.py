"""Installs the ``depict`` package: decoders for plain-ViT semantic segmentation
on mmsegmentation 1.x.

``pip install -e .`` installs what training and testing need; the extras are
``[tests]`` (the test suite), ``[deploy]`` (ONNX export and ONNX Runtime) and
``[tools]`` (FLOP counting, the official Cityscapes evaluator, corruption
robustness, TensorBoard, plots).

mmsegmentation 1.2.2 needs ``mmcv<2.2``, whose compiled ops do not build against
current PyTorch, so the default requirement is ``mmcv-lite`` and ``depict``
supplies pure-PyTorch fallbacks for the few ops mmseg imports. If you already
have the compiled ``mmcv`` (for example on an older PyTorch), install with
``DEPICT_FULL_MMCV=1 pip install -e .`` so that pip requires ``mmcv`` instead of
overwriting it with ``mmcv-lite``; the compiled ops are then used untouched.

Besides the packages, the install puts ``depict_mmcv_hook.pth`` into
site-packages (for ``pip install .`` and ``pip install -e .`` alike): a one-line
startup hook that applies the ``mmcv.ops`` fallback to plain mmseg too, without
an ``import depict`` (see ``depict/compat/startup_hook.py``).
"""
import os
import re
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.dist import Distribution
from distutils.command.install_data import install_data  # noqa: E402 (after setuptools)

HERE = Path(__file__).parent


def read_requirements(path: Path) -> list[str]:
    """Requirement lines of ``path``, comments and blank lines dropped."""
    lines = (line.split('#', 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def version() -> str:
    text = (HERE / 'depict' / 'version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


install_requires = read_requirements(HERE / 'requirements.txt')
if os.environ.get('DEPICT_FULL_MMCV', '0') == '1':
    install_requires = [
        'mmcv>=2.0.0rc4,<2.2.0' if req.startswith('mmcv-lite') else req
        for req in install_requires
    ]

class InstallDataWithStartupHook(install_data):
    """Also writes the startup ``.pth`` beside the packages (site-packages).

    ``install_data`` runs both when pip builds a regular wheel and when it
    builds an editable one (PEP 660), and in both the ``install`` command's
    ``install_lib`` is the root of the wheel, which pip unpacks into
    site-packages. (``build_py`` output is dropped by editable installs.)
    """

    def run(self) -> None:
        super().run()
        import sys
        sys.path.insert(0, str(HERE))
        try:
            from depict_mmcv_hook import PTH_LINE, PTH_NAME
        finally:
            sys.path.pop(0)
        target = Path(self.get_finalized_command('install').install_lib, PTH_NAME)
        self.mkpath(str(target.parent))
        if not self.dry_run:
            target.write_text(PTH_LINE)
        self.outfiles.append(str(target))


class DistributionWithStartupHook(Distribution):
    """Runs ``install_data`` (which writes the startup hook) in every install,
    although the package has no data files of its own."""

    def has_data_files(self) -> bool:
        return True

    # setuptools' editable_wheel asks ``has_data`` before running install_data.
    has_data = has_data_files


# ONNX export (torch.onnx's torch.export-based exporter needs onnxscript) and
# ONNX Runtime: tools/deployment/, docs/deployment.md. Tested with onnx 1.23.2,
# onnxruntime 1.32.0, onnxscript 0.7.2 on torch 2.14.1.
DEPLOY = ['onnx>=1.18,<1.24', 'onnxruntime>=1.22,<1.33', 'onnxscript>=0.5,<0.8']

extras_require = {
    # The tests export to ONNX and run ONNX Runtime (tests/test_deploy/).
    'tests': ['pytest>=7', *DEPLOY],
    'deploy': DEPLOY,
    'tools': [
        'fvcore',
        'cityscapesscripts',
        'imagecorruptions',
        'tensorboard',
        'matplotlib',
        # cityscapesscripts and imagecorruptions still import pkg_resources.
        'setuptools<81',
    ],
}
extras_require['all'] = sorted({r for reqs in extras_require.values() for r in reqs})

setup(
    name='depict',
    version=version(),
    description='Transformer decoders for semantic segmentation on plain ViTs '
    '(DEPICT, SegViT ATM, representation separation) on mmsegmentation 1.x',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(include=['depict', 'depict.*']),
    py_modules=['depict_mmcv_hook'],
    data_files=[],
    distclass=DistributionWithStartupHook,
    cmdclass={'install_data': InstallDataWithStartupHook},
    install_requires=install_requires,
    extras_require=extras_require,
    zip_safe=False,
)
