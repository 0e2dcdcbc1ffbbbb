"""tools/analysis_tools/bench_pipeline.py: pipeline throughput and workers needed."""
import json
import math
import os.path as osp

from conftest import PYTHON, REPO, run_tool

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'bench_pipeline.py')
CONFIG = osp.join(REPO, 'configs', 'depict', 'depict-sa_vit-l16_8xb1-160k_ade20k-640x640.py')


def test_bench_pipeline_tiny_images(tmp_path):
    out = str(tmp_path / 'pipeline.json')
    bench = tmp_path / 'bench_models.json'
    # A bench_models.py report: fused step 400 ms at batch 2.
    bench.write_text(json.dumps(dict(meta=dict(batch=2), results=[dict(
        config='depict-sa', variants=dict(fused=dict(train=dict(median_ms=400.0))))])))
    proc = run_tool([PYTHON, TOOL, CONFIG, '--image-size', '64', '48', '--num-images', '3',
                     '--iters', '4', '--warmup', '1', '--gpus', '8', '--bench-json', str(bench),
                     '--out', out], fork=True)
    assert 'images/s per worker' in proc.stdout
    with open(out) as f:
        result = json.load(f)
    assert result['samples'] == 4 and result['image_size'] == [64, 48]
    # The config's own augmentation ran on the synthetic ADE20K-layout images.
    assert result['pipeline'] == ['CheckedLoadImageFromFile', 'CheckedLoadAnnotations', 'RandomResize',
                                  'RandomCrop', 'RandomFlip', 'PhotoMetricDistortion',
                                  'PackSegInputs']
    rate = result['images_per_s_per_worker']
    assert rate > 0 and result['images_per_s_wall_clock'] > 0
    (need, ) = result['workers']
    # Step time and batch come from the bench_models report.
    assert need['step_time_s'] == 0.4 and result['batch_per_gpu'] == 2
    assert need['images_per_s_per_gpu'] == 2 / 0.4
    assert need['workers_per_gpu'] == max(1, math.ceil(2 / 0.4 / rate))
    assert need['workers_total'] == 8 * need['workers_per_gpu']
    assert result['current']['num_workers'] is not None


def test_bench_pipeline_rejects_bad_step_time():
    proc = run_tool([PYTHON, TOOL, CONFIG, '--step-time', '0'], check=False)
    assert proc.returncode != 0 and '--step-time must be positive' in proc.stderr
