"""Dry runs of the pipeline configs, the linter, and the DAG-time errors for bad pipeline configs."""
import re

import pytest


def _variants(output):
    return set(re.findall(r'results/runs/[^/\s]+/dynamic_rcnn/([^/\s]+)/seed\d+/metrics\.json', output))


def _slot_launches(output, rule, gpus):
    """How many jobs of ``rule`` a dry run shows, and how many of their shell commands start the tool through the
    GPU-slot launcher with ``--gpus gpus`` (the training's $launch or the evaluation's python), log redirection kept."""
    tool = {'train': r'\$launch', 'evaluate': r'\S+'}[rule] + rf' -m dynrcnn\.tools\.{rule} '
    pattern = re.compile(rf'\S+ -m dynrcnn\.tools\.gpu_slots --gpus {gpus} -- {tool}.* > results/logs/{rule}/\S+ 2>&1$')
    shells = [block.split('Shell command:')[1].splitlines()[0] for block in output.split(f'rule {rule}:')[1:]]
    return len(shells), sum(bool(pattern.search(shell)) for shell in shells)


def test_default_config_dry_run(tmp_path, smk):
    proc = smk.run(tmp_path, '-n', configfiles=[smk.configs / 'default.yaml'], check=True)
    counts = smk.job_counts(proc.stdout)
    assert counts['synthetic_data'] == 1
    assert counts['train'] == 4 and counts['evaluate'] == 4
    assert counts['collect_metrics'] == 1 and counts['all'] == 1
    assert counts.get('report', 0) + counts.get('report_metrics_table', 0) == 1
    for arm in ('baseline', 'dla', 'dsl', 'dynamic_rcnn'):
        assert f'results/runs/synthetic/{arm}/default/seed0/metrics.json' in proc.stdout
    # CPU: one process per training, no torchrun, one thread; the GPU-slot launcher runs the command unchanged
    assert '--nproc-per-node=0' in proc.stdout and 'if [ 0 -gt 1 ]' in proc.stdout
    assert _slot_launches(proc.stdout, 'train', 0) == (4, 4)
    assert _slot_launches(proc.stdout, 'evaluate', 0) == (4, 4)
    assert not (tmp_path / 'results').exists()


def test_coco_config_dry_run(tmp_path, smk, fake_coco):
    override = smk.write_config(tmp_path / 'root.yaml', dataset={'name': 'coco', 'root': str(fake_coco)})
    proc = smk.run(tmp_path, '-n', configfiles=[smk.configs / 'coco_1x.yaml', override], check=True)
    counts = smk.job_counts(proc.stdout)
    assert 'synthetic_data' not in counts  # COCO is never generated
    assert counts['train'] == 12 and counts['evaluate'] == 12  # 4 arms x 3 seeds
    for seed in (0, 1, 2):
        assert f'results/runs/coco_r50_fpn_1x/dla/default/seed{seed}/metrics.json' in proc.stdout
    # 8 GPUs per training: declared as a resource and launched with torchrun
    assert re.search(r'resources:.*gpu=8', proc.stdout)
    assert '--nproc-per-node=8' in proc.stdout and 'if [ 8 -gt 1 ]' in proc.stdout
    assert '--dataset coco' in proc.stdout and f'--data-root {fake_coco}' in proc.stdout
    assert 'train_dataloader.batch_size=2' in proc.stdout


def test_sweeps_config_dry_run(tmp_path, smk, fake_coco):
    override = smk.write_config(tmp_path / 'root.yaml', dataset={'name': 'coco', 'root': str(fake_coco)})
    proc = smk.run(tmp_path, '-n', configfiles=[smk.configs / 'sweeps.yaml', override], check=True)
    # one hyper-parameter at a time around K_I 75, K_beta 10, C 100; the defaults themselves are 'default'
    assert _variants(proc.stdout) == {
        'default',
        'ki50-kb10-c100', 'ki64-kb10-c100', 'ki100-kb10-c100', 'ki128-kb10-c100',
        'ki75-kb8-c100', 'ki75-kb15-c100',
        'ki75-kb10-c20', 'ki75-kb10-c50', 'ki75-kb10-c200',
    }
    assert smk.job_counts(proc.stdout)['train'] == 10
    assert 'model.train_cfg.rcnn.dynamic_rcnn.iou_topk=128' in proc.stdout
    assert 'model.train_cfg.rcnn.dynamic_rcnn.update_iter_interval=20' in proc.stdout


def test_grid_sweep_on_synthetic(tmp_path, smk):
    from mmengine.config import Config
    block = Config.fromfile(str(smk.repo / 'configs' / 'synthetic' / 'dynamic_rcnn.py'),
                            import_custom_modules=False).model.train_cfg.rcnn.dynamic_rcnn
    ki, kb, c = block.iou_topk, block.beta_topk, block.update_iter_interval  # the family's defaults
    config = smk.write_config(tmp_path / 'grid.yaml', base='default.yaml', arms=['baseline'], seeds=[0, 1],
                              sweeps={'mode': 'grid', 'iou_topk': [ki, ki + 7], 'beta_topk': [kb + 1],
                                      'arms': ['dynamic_rcnn']})
    proc = smk.run(tmp_path, '-n', configfiles=[config], check=True)
    # every combination of the lists; C (empty list) stays at the default
    assert _variants(proc.stdout) == {f'ki{ki}-kb{kb + 1}-c{c}', f'ki{ki + 7}-kb{kb + 1}-c{c}'}
    assert smk.job_counts(proc.stdout)['train'] == 2 * 2 + 2  # 2 variants x 2 seeds + baseline x 2 seeds


def test_lint_is_clean(smk):
    proc = smk.run(smk.repo, '--lint', check=False)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert 'Congratulations' in proc.stdout


@pytest.mark.parametrize('override, message', [
    (dict(arms=['baseline', 'faster_rcnn']), r"'faster_rcnn' is not one of"),
    (dict(dataset={'name': 'coco'}), r'dataset.root is not set'),
    (dict(dataset={'name': 'coco', 'root': 'no/such/coco'}), r"dataset.root 'no/such/coco' is not a COCO 2017 root"),
    (dict(sweeps={'iou_topk': [50, 'seventy-five']}), r"'seventy-five' is not of type 'integer'"),
    (dict(sweeps={'update_iter_interval': [1.5]}), r"1.5 is not of type 'integer'"),
    (dict(seeds=[]), r'\[\] should be non-empty'),
    (dict(family='coco_r101'), r"'coco_r101' is not one of"),
])
def test_bad_config_fails_before_any_job(tmp_path, smk, override, message):
    config = smk.write_config(tmp_path / 'bad.yaml', base='tiny.yaml', **override)
    proc = smk.run(tmp_path, '--cores', '1', configfiles=[config])  # a real run, not a dry run
    assert proc.returncode != 0
    assert re.search(message, proc.stdout), proc.stdout[-3000:]
    assert not (tmp_path / 'results').exists()  # nothing started
    assert 'rule ' not in proc.stdout and 'jobid' not in proc.stdout


@pytest.mark.parametrize('profile, expected', [
    ('slurm', [r'slurm_partition=gpu', r'cpus_per_task=32', r'gpu=8']),
    ('local_gpu', [r'gpu=8']),
])
def test_profiles_place_the_gpu_trainings(tmp_path, smk, fake_coco, profile, expected):
    override = smk.write_config(tmp_path / 'root.yaml', dataset={'name': 'coco', 'root': str(fake_coco)})
    proc = smk.run(tmp_path, '-n', '--workflow-profile', str(smk.repo / 'workflow' / 'profiles' / profile),
                   configfiles=[smk.configs / 'coco_1x.yaml', override], check=True)
    assert f'profiles/{profile} for setting default command line arguments' in proc.stdout
    train_jobs = [block for block in proc.stdout.split('rule train:')[1:]]
    assert len(train_jobs) == 12
    for pattern in expected:
        assert all(re.search(pattern, block.split('Shell command')[0]) for block in train_jobs), pattern
    # the launch goes through the GPU-slot launcher (distinct GPUs per job on a local node; a no-op under SLURM):
    # a training's 8 GPUs for torchrun, one for an evaluation
    assert _slot_launches(proc.stdout, 'train', 8) == (12, 12)
    assert _slot_launches(proc.stdout, 'evaluate', 1) == (12, 12)


@pytest.mark.parametrize('profile', ['slurm', 'local_gpu'])
def test_training_threads_are_shared_out_among_the_gpus(tmp_path, smk, fake_coco, profile):
    """32 threads for an 8-GPU training: 4 per torchrun process, not 32 each."""
    override = smk.write_config(tmp_path / 'root.yaml', dataset={'name': 'coco', 'root': str(fake_coco)},
                                arms=['dla'], seeds=[0])
    proc = smk.run(tmp_path, '-n', '--cores', '64', '--workflow-profile',
                   str(smk.repo / 'workflow' / 'profiles' / profile),
                   configfiles=[smk.configs / 'coco_1x.yaml', override], check=True)
    shell = proc.stdout.split('rule train:')[1].split('Shell command:')[1].splitlines()[0]
    assert 'OMP_NUM_THREADS=4 ' in shell and '--threads 4 ' in shell


def test_configfile_replaces_default_yaml(tmp_path, smk, fake_coco):
    """With --configfile, default.yaml is not read: keys the file leaves out take the schema's defaults (what the
    README says), not the synthetic default's."""
    import yaml
    schema = yaml.safe_load((smk.repo / 'workflow' / 'schemas' / 'config.schema.yaml').read_text())
    resources = {k: v['default'] for k, v in schema['properties']['resources']['properties'].items()}
    default_yaml = yaml.safe_load((smk.configs / 'default.yaml').read_text())['resources']
    assert resources['train_runtime'] != default_yaml['train_runtime']  # else this test shows nothing
    config = smk.write_config(tmp_path / 'mini.yaml', dataset={'name': 'coco', 'root': str(fake_coco)},
                              family='coco_r50_fpn_1x', arms=['dla'])
    proc = smk.run(tmp_path, '-n', configfiles=[config], check=True)
    train = proc.stdout.split('rule train:')[1].split('Shell command')[0]
    assert f"runtime={resources['train_runtime']}," in train
    assert f"mem_mb={resources['train_mem_mb']}," in train
    assert 'seed0' in train and 'seed1' not in proc.stdout  # schema default seeds: [0]
