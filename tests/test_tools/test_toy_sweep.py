"""tools/analysis_tools/toy_sweep.py: schedule shortening, reading runs, the summary table."""
import importlib.util
import json
import os
import os.path as osp

import pytest

from conftest import PYTHON, REPO, TOY_CONFIG, run_tool

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'toy_sweep.py')


def load_tool():
    spec = importlib.util.spec_from_file_location('toy_sweep', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_run(work_dir, losses, miou):
    """A finished run as mmengine leaves it: <ts>/vis_data/scalars.json."""
    vis = osp.join(work_dir, '20260101_000000', 'vis_data')
    os.makedirs(vis)
    with open(osp.join(vis, 'scalars.json'), 'w') as f:
        for step, loss in losses:
            f.write(json.dumps({'loss': loss, 'step': step, 'lr': 1e-4}) + '\n')
        f.write(json.dumps({'aAcc': 80.0, 'mIoU': miou, 'step': losses[-1][0]}) + '\n')


def test_shortened_options_end_the_poly_schedule_at_the_new_length():
    tool = load_tool()
    options = tool.shortened_options(TOY_CONFIG, 600)
    # The toy schedule: linear warm-up (0-100), then poly (100-2000) -> poly ends at 600.
    assert options == {'train_cfg.max_iters': 600, 'train_cfg.val_interval': 600,
                       'param_scheduler.1.end': 600}
    with pytest.raises(ValueError, match='before the last scheduler begins'):
        tool.shortened_options(TOY_CONFIG, 50)


def test_summary_and_loss_curve_from_scalars(tmp_path):
    tool = load_tool()
    fake_run(str(tmp_path), [(10, 3.0), (20, 2.0)], 31.5)
    records = tool.read_scalars(str(tmp_path))
    assert tool.final_miou(records) == 31.5
    assert tool.loss_curve(records) == [(10, 3.0), (20, 2.0)]
    summary = tool.summarise([30.0, 33.0, 31.5])
    assert summary.mean == pytest.approx(31.5) and summary.spread == pytest.approx(1.5)
    assert tool.final_miou(tool.read_scalars(str(tmp_path / 'missing'))) is None
    # An intermediate validation is not a final one.
    assert tool.final_miou(records, at_step=20) == 31.5
    assert tool.final_miou(records, at_step=40) is None


def test_cli_reads_finished_runs_and_writes_table_summary_and_plot(tmp_path):
    # Finished runs (validated at the config's last iteration, 2000) are read, not
    # retrained: the sweep resumes and this test needs no training.
    name = osp.splitext(osp.basename(TOY_CONFIG))[0]
    for seed, miou in ((0, 30.0), (1, 34.0)):
        fake_run(str(tmp_path / name / f'seed{seed}'), [(10, 3.0 + seed), (2000, 2.0)], miou)
    plot = tmp_path / 'curves.png'
    out = run_tool([PYTHON, TOOL, TOY_CONFIG, '--seeds', '0', '1', '--out-dir', str(tmp_path),
                    '--plot', str(plot)], fork=True).stdout
    assert f'| {name} | 32.00 ± 2.00 | 30.00 / 34.00 |' in out
    with open(tmp_path / 'summary.json') as f:
        summary = json.load(f)[name]
    assert summary['mean'] == 32.0 and summary['loss'][1] == [[10, 4.0], [2000, 2.0]]
    assert plot.stat().st_size > 1000


def test_compare_reads_settings_from_different_sweeps(tmp_path):
    for setting, values in (('shared', (30.0, 34.0, 32.0)), ('lr10', (5.0, 4.0, 6.0))):
        for seed, miou in enumerate(values):
            fake_run(str(tmp_path / setting / 'cfg' / f'seed{seed}'),
                     [(10, 3.0), (20, 1.0 + seed)], miou)
    os.makedirs(tmp_path / 'lr10' / 'cfg' / 'seed3')  # an unfinished run is left out
    # ... and so is one stopped after an intermediate validation (its dumped
    # config says 40 iterations; it validated at 20).
    fake_run(str(tmp_path / 'lr10' / 'cfg' / 'seed4'), [(10, 3.0), (20, 2.0)], 99.0)
    with open(tmp_path / 'lr10' / 'cfg' / 'seed4' / 'cfg.py', 'w') as f:
        f.write('train_cfg = dict(type="IterBasedTrainLoop", max_iters=40, val_interval=20)\n')
    plot = tmp_path / 'compare.png'
    out = run_tool([PYTHON, TOOL, '--compare', f'shared={tmp_path / "shared" / "cfg"}',
                    f'head lr x10={tmp_path / "lr10" / "cfg"}', '--plot', str(plot)]).stdout
    assert '| shared | 32.00 ± 2.00 | 30.00 / 34.00 / 32.00 (seeds 0, 1, 2) |' in out
    assert '| head lr x10 | 5.00 ± 1.00 | 5.00 / 4.00 / 6.00 (seeds 0, 1, 2) |' in out
    assert plot.stat().st_size > 1000


def test_compare_errors_name_the_problem(tmp_path):
    proc = run_tool([PYTHON, TOOL, '--compare', f'x={tmp_path}'], check=False)
    assert proc.returncode != 0 and 'no finished seed<S> run' in proc.stderr
    proc = run_tool([PYTHON, TOOL, '--compare', str(tmp_path)], check=False)
    assert proc.returncode != 0 and 'expected LABEL=RUN_DIR' in proc.stderr
    proc = run_tool([PYTHON, TOOL], check=False)
    assert proc.returncode != 0 and 'give config files' in proc.stderr
