"""Dry runs of the pipeline configs, the linter, and the DAG-time errors for bad pipeline configs."""
import json
import re
import sys

import pytest


def _variants(output):
    return set(re.findall(r'results/runs/[^/\s]+/dynamic_rcnn/([^/\s]+)/seed\d+/metrics\.json', output))


def _slot_launches(output, rule, gpus):
    """How many jobs of ``rule`` a dry run shows, and how many of their shell commands start the tool through the
    GPU-slot launcher with ``--gpus gpus`` (the training's $launch or the evaluation's python), log redirection kept."""
    tool = {'train': r'\$launch', 'evaluate': r'env PYTHONPATH=\S+ \S+'}[rule] + rf' -m dynrcnn\.tools\.{rule} '
    pattern = re.compile(rf'\S+ -m dynrcnn\.tools\.gpu_slots --gpus {gpus} -- {tool}.* > results/logs/{rule}/\S+ 2>&1$')
    shells = [block.split('Shell command:')[1].splitlines()[0] for block in output.split(f'rule {rule}:')[1:]]
    return len(shells), sum(bool(pattern.search(shell)) for shell in shells)


def test_default_config_dry_run(tmp_path, smk):
    proc = smk.run(tmp_path, '-n', configfiles=[smk.configs / 'default.yaml'], check=True)
    # every module run (`python -m dynrcnn...` / `-m analysis...`) imports the project from the repository, so the
    # rule environments need not install it (--sdm conda); the training's $launch is that interpreter too
    python = f'env PYTHONPATH={smk.repo} {sys.executable}'
    runs = re.findall(r'(\S+ \S+ \S+) -m (?:dynrcnn|analysis)\.', proc.stdout)
    assert len(runs) == 1 + 4 * 2 + 4 * 2 + 2  # data, train (+ launcher), evaluate (+ launcher), report
    assert {r.lstrip('(') for r in runs if not r.endswith('$launch')} == {python}
    assert proc.stdout.count(f"else launch='{python}'") == 4
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


@pytest.mark.parametrize('mode', ['one_at_a_time', 'grid'])
def test_sweep_skips_the_variants_an_arm_ignores(tmp_path, smk, mode):
    from mmengine.config import Config
    block = Config.fromfile(str(smk.repo / 'configs' / 'synthetic' / 'dynamic_rcnn.py'),
                            import_custom_modules=False).model.train_cfg.rcnn.dynamic_rcnn
    ki, kb, c = block.iou_topk, block.beta_topk, block.update_iter_interval  # the family's defaults (all arms)
    one_at_a_time = mode == 'one_at_a_time'
    kis, kbs = ([ki, ki + 5, ki + 10], [kb + 1, kb + 2, kb + 3]) if one_at_a_time else ([ki, ki + 5], [kb, kb + 1])
    config = smk.write_config(tmp_path / 'sweep.yaml', base='default.yaml', arms=['baseline'],
                              sweeps={'mode': mode, 'iou_topk': kis, 'beta_topk': kbs,
                                      'arms': ['dla', 'dsl', 'dynamic_rcnn']})
    proc = smk.run(tmp_path, '-n', configfiles=[config], check=True)
    variants = {arm: set(re.findall(rf'results/runs/synthetic/{arm}/([^/\s]+)/seed0/metrics\.json', proc.stdout))
                for arm in ('dla', 'dsl', 'dynamic_rcnn')}
    name = 'ki{}-kb{}-c{}'.format
    if one_at_a_time:
        full = {name(k, kb, c) for k in kis[1:]} | {name(ki, k, c) for k in kbs}
        dla_dropped, dsl_dropped = 3, 2  # dla: the 3 K_beta variants; dsl: the 2 K_I variants other than the default
    else:
        full = {name(k, b, c) for k in kis for b in kbs} - {name(ki, kb, c)}
        dla_dropped, dsl_dropped = 2, 2
    # dla trains only the default K_beta, dsl only the default K_I, dynamic_rcnn every variant
    assert variants == {
        'dla': {'default'} | {name(k, kb, c) for k in kis[1:]},
        'dsl': {'default'} | {name(ki, b, c) for b in kbs if b != kb},
        'dynamic_rcnn': {'default'} | full,
    }
    assert smk.job_counts(proc.stdout)['train'] == 1 + sum(map(len, variants.values()))  # + baseline
    notices = re.findall(r'^sweeps: arm .*$', proc.stdout, flags=re.M)
    assert notices == [f'sweeps: arm dla ignores beta_topk (DSL off): {dla_dropped} variants not trained',
                       f'sweeps: arm dsl ignores iou_topk (DLA off): {dsl_dropped} variants not trained']


def test_lint_is_clean(smk):
    proc = smk.run(smk.repo, '--lint', check=False)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert 'Congratulations' in proc.stdout


DYNAMIC = 'model.train_cfg.rcnn.dynamic_rcnn'


def _options(*options):
    return dict(train={'max_epochs': 2, 'cfg_options': list(options)})


@pytest.mark.parametrize('override, message', [
    # schema violations: one line naming the field (no dump of the schema)
    (dict(arms=['baseline', 'faster_rcnn']), r"Invalid pipeline config: arms\[1\]: 'faster_rcnn' is not one of"),
    (dict(sweeps={'iou_topk': [50, 'seventy-five']}), r"sweeps\.iou_topk\[1\]: 'seventy-five' is not of type 'integer'"),
    (dict(sweeps={'update_iter_interval': [1.5]}), r"sweeps\.update_iter_interval\[0\]: 1.5 is not of type 'integer'"),
    (dict(sweeps={'iou_topk': [-5]}), r'Invalid pipeline config: sweeps\.iou_topk\[0\]: -5 is less than the minimum of 1'),
    (dict(seeds=[]), r'seeds: \[\] should be non-empty'),
    (dict(family='coco_r101'), r"family: 'coco_r101' is not one of"),
    (dict(epochs=3), r"top level: Additional properties are not allowed \('epochs' was unexpected\)"),
    # the COCO root
    (dict(dataset={'name': 'coco'}, family='coco_r50_fpn_1x'), r'dataset.root is not set'),
    (dict(dataset={'name': 'coco', 'root': 'no/such/coco'}, family='coco_r50_fpn_1x'),
     r"dataset.root 'no/such/coco' is not a COCO 2017 root"),
    # dataset and family must match
    (dict(dataset={'name': 'coco', 'root': 'no/such/coco'}),
     r"dataset\.name is 'coco' but family is 'synthetic'.*set family: coco_r50_fpn_1x"),
    (dict(family='coco_r50_fpn_1x'), r"dataset\.name is 'synthetic' but family is 'coco_r50_fpn_1x'.*set family: synthetic"),
    # sweeps that would train nothing, or duplicates
    (dict(sweeps={'iou_topk': [50], 'arms': []}), r'sweeps\.iou_topk is set but sweeps\.arms is empty'),
    (dict(sweeps={'iou_topk': [50], 'arms': ['baseline', 'dynamic_rcnn']}),
     r"sweeps\.arms contains 'baseline'.*remove 'baseline' from sweeps\.arms"),
    # an arm whose only swept key is one it ignores (dla: K_beta, dsl: K_I) would train no sweep variant
    (dict(sweeps={'beta_topk': [3], 'arms': ['dla', 'dynamic_rcnn']}),
     r"sweeps\.arms contains 'dla', which ignores beta_topk \(DSL off\).*drop 'dla' from sweeps\.arms or sweep a "
     r"key it uses \(sweeps\.iou_topk or sweeps\.update_iter_interval\)"),
    (dict(sweeps={'mode': 'grid', 'iou_topk': [3, 4], 'arms': ['dsl']}),
     r"sweeps\.arms contains 'dsl', which ignores iou_topk \(DLA off\).*drop 'dsl' from sweeps\.arms"),
    # cfg_options keys the pipeline owns, each with the pipeline key to use
    *[(_options(f'{DYNAMIC}.{key}=75'), rf"train\.cfg_options\[0\] '{DYNAMIC}\.{key}=75': .*sweeps\.{key}")
      for key in ('iou_topk', 'beta_topk', 'update_iter_interval')],
    (_options(f'{DYNAMIC}.dynamic_label=False'), r'cfg_options\[0\].*dynamic_label is set by the arm.*choose the arms'),
    (_options('train_cfg.val_interval=1', 'train_dataloader.batch_size=3'),
     r"train\.cfg_options\[1\] 'train_dataloader\.batch_size=3'.*set images_per_gpu"),
    (_options('train_cfg.max_epochs=5'), r'cfg_options\[0\].*set train\.max_epochs'),
    (_options('train_dataloader.dataset.data_root=/data/'), r'cfg_options\[0\].*set dataset\.root'),
    (_options('val_evaluator.ann_file=/data/val.json'), r'cfg_options\[0\].*set dataset\.root'),
    (_options('work_dir=/tmp/w'), r'cfg_options\[0\].*work_dir is set by the pipeline.*--directory'),
    (_options('train_cfg.rcnn.dynamic_rcnn.initial_iou=0.5'),
     r"cfg_options\[0\].*model keys start with 'model\.' \(write model\.train_cfg\.rcnn"),
    # other dynamic_rcnn values: the head's own checks, on the value the training would get
    (_options(f'{DYNAMIC}.initial_iou=1.5'), r'cfg_options\[0\].*initial_iou` must be a number in the open interval'),
    (_options(f'{DYNAMIC}.initial_beta=0'), r'cfg_options\[0\].*initial_beta` must be a finite number > 0'),
    (_options(f'{DYNAMIC}.sync_across_ranks=yes'), r'cfg_options\[0\].*sync_across_ranks` must be True or False'),
    (_options(f'{DYNAMIC}.statistics=paper'), r"cfg_options\[0\].*statistics` must be one of \('mmdet', 'official'\)"),
    (_options(f'{DYNAMIC}.iou_thr=0.5'), r"cfg_options\[0\].*Unknown key\(s\) \['iou_thr'\]"),
])
def test_bad_config_fails_before_any_job(tmp_path, smk, override, message):
    config = smk.write_config(tmp_path / 'bad.yaml', base='tiny.yaml', **override)
    proc = smk.run(tmp_path, '--cores', '1', configfiles=[config])  # a real run, not a dry run
    assert proc.returncode != 0
    assert re.search(message, proc.stdout), proc.stdout[-3000:]
    assert proc.stdout.count('Invalid pipeline config') == 1 and 'Failed validating' not in proc.stdout
    assert not (tmp_path / 'results').exists()  # nothing started
    assert 'rule ' not in proc.stdout and 'jobid' not in proc.stdout


def test_valid_cfg_options_reach_the_training(tmp_path, smk):
    options = ['train_cfg.val_interval=1', f'{DYNAMIC}.initial_iou=0.5', f'{DYNAMIC}.statistics=official',
               f'{DYNAMIC}.sync_across_ranks=True', 'model.backbone.init_cfg.checkpoint=/weights/r50.pth',
               'load_from=/checkpoints/detector.pth']
    config = smk.write_config(tmp_path / 'ok.yaml', base='tiny.yaml', **_options(*options))
    proc = smk.run(tmp_path, '-n', configfiles=[config], check=True)
    train = proc.stdout.split('rule train:')[1]
    assert all(option in train for option in options)


def _rename_category(path, old, new):
    data = json.loads(path.read_text())
    data['categories'] = [dict(c, name=new) if c['name'] == old else c for c in data['categories']]
    path.write_text(json.dumps(data))


@pytest.mark.parametrize('split, change, message', [
    ('val', lambda p: p.write_text('{"images": [], '), r'instances_val2017\.json: not a readable JSON file'),
    ('train', lambda p: p.write_text('[]'), r'instances_train2017\.json: not a JSON object \(a list\)'),
    ('val', lambda p: p.write_text('{"images": [], "annotations": []}'), r"instances_val2017\.json: no 'categories' list"),
    ('val', lambda p: p.write_text(json.dumps(dict(images=[], annotations=[], categories=[
        dict(id=1, name='circle'), dict(id=2, name='square')]))),
     r"instances_val2017\.json: 2 categories, not COCO's 80 \(unexpected 'circle', 'square'; missing 'person'"),
    ('train', lambda p: _rename_category(p, 'person', 'human'),
     r"instances_train2017\.json: 80 categories, not COCO's 80 \(unexpected 'human'; missing 'person'\)"),
])
def test_bad_coco_annotations_fail_before_any_job(tmp_path, smk, fake_coco, split, change, message):
    change(fake_coco / 'annotations' / f'instances_{split}2017.json')
    override = smk.write_config(tmp_path / 'root.yaml', dataset={'name': 'coco', 'root': str(fake_coco)})
    proc = smk.run(tmp_path, '--cores', '1', configfiles=[smk.configs / 'coco_1x.yaml', override])
    assert proc.returncode != 0
    assert re.search(rf'Invalid pipeline config: {re.escape(str(fake_coco))}/annotations/{message}.*'
                     'point dataset.root at the COCO 2017 root', proc.stdout), proc.stdout[-3000:]
    assert not (tmp_path / 'results').exists()
    assert 'rule ' not in proc.stdout and 'jobid' not in proc.stdout


def test_coco_annotation_check_is_cached_per_file_version(tmp_path, smk, fake_coco):
    """instances_train2017.json is ~450 MB: a file that passed is not parsed again while its size and mtime stay."""
    import os
    override = smk.write_config(tmp_path / 'root.yaml', dataset={'name': 'coco', 'root': str(fake_coco)})
    configs = [smk.configs / 'coco_1x.yaml', override]
    smk.run(tmp_path, '-n', configfiles=configs, check=True)
    cache = json.loads((tmp_path / '.snakemake' / 'dynrcnn' / 'coco_annotations.json').read_text())
    val = fake_coco / 'annotations' / 'instances_val2017.json'
    stat = val.stat()
    assert cache['passed'][str(val)] == [stat.st_size, stat.st_mtime_ns]
    # same size and mtime, other content: the cached verdict is used (the file is not parsed)
    val.write_text('x' * stat.st_size)
    os.utime(val, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    smk.run(tmp_path, '-n', configfiles=configs, check=True)
    # a new mtime: checked again
    os.utime(val, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    proc = smk.run(tmp_path, '-n', configfiles=configs)
    assert proc.returncode != 0 and 'instances_val2017.json: not a readable JSON file' in proc.stdout


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


def test_editing_the_family_base_config_retrains(tmp_path, smk):
    """configs/{family}/_base_.py is an input of every training (the arm's config stays the trained one): with every
    output up to date, touching it makes each training, and only the trainings and what follows, outdated."""
    import os
    import shutil
    import time

    from dynrcnn.data.synthetic import generate

    repo = tmp_path / 'repo'  # a copy of the workflow, so that its config files can be touched
    repo.mkdir()
    for name in ('Snakefile', 'workflow', 'configs', 'profiles'):
        (shutil.copytree if (smk.repo / name).is_dir() else shutil.copy)(smk.repo / name, repo / name)
    work = tmp_path / 'work'
    small = dict(num_train=2, num_val=1, image_size=64, seed=0)
    config = smk.write_config(tmp_path / 'c.yaml', base='tiny.yaml', arms=['baseline', 'dla'],
                              dataset=dict(name='synthetic', root='results/data/tiny', synthetic=small))
    generate(work / 'results' / 'data' / 'tiny', **small)
    outputs = ['results/data/tiny.ready']
    for arm in ('baseline', 'dla'):
        run = f'results/runs/synthetic/{arm}/default/seed0'
        outputs += [f'{run}/train_manifest.json', f'{run}/scalars.json', f'{run}/metrics.json',
                    f'{run}/detections/final.bbox.json']
    outputs += ['results/collected/synthetic/metrics.csv', 'results/collected/synthetic/metrics.md']
    now = time.time()
    for i, rel in enumerate(outputs):  # every output newer than what it is made from
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text('')
        os.utime(work / rel, (now + 10 + i, now + 10 + i))
    proc = smk.run(work, '-n', configfiles=[config], snakefile=repo / 'Snakefile', check=True)
    assert 'Nothing to be done' in proc.stdout, proc.stdout[-3000:]

    base = repo / 'configs' / 'synthetic' / '_base_.py'
    os.utime(base, (now + 100, now + 100))
    out = smk.run(work, '-n', configfiles=[config], snakefile=repo / 'Snakefile', check=True).stdout
    assert smk.job_counts(out) == dict(train=2, evaluate=2, collect_metrics=1, all=1), out[-3000:]
    assert out.count(f'reason: Updated input files: {base}') == 2, out[-3000:]
    for arm in ('baseline', 'dla'):  # the shell still trains the arm's own config
        assert f'-m dynrcnn.tools.train {repo}/configs/synthetic/{arm}.py --work-dir' in out
