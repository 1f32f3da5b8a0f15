"""The synthetic_data rule: its output is a marker next to the dataset (Snakemake deletes a job's outputs before a
rerun, never the dataset), a rerun with the same parameters reuses the dataset, and a dataset.root the rule could not
fill or reuse is refused while the DAG is built, before any job, with nothing deleted."""
import re

import pytest

from dynrcnn.data.synthetic import COMPLETE_MARKER, generate

SMALL = dict(num_train=3, num_val=1, image_size=64, seed=0)


def _state(root):
    """Every file below ``root`` (dot files included) with its modification time and bytes."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(root.rglob('*')) if p.is_file()}


def _config(smk, path, root, **synthetic):
    return smk.write_config(path, base='tiny.yaml', dataset=dict(name='synthetic', root=str(root),
                                                                 synthetic={**SMALL, **synthetic}))


def _refused_before_any_job(proc, tmp_path, message):
    assert proc.returncode != 0
    assert re.search(message, proc.stdout), proc.stdout[-3000:]
    assert 'Invalid pipeline config' in proc.stdout
    assert 'rule ' not in proc.stdout and 'jobid' not in proc.stdout  # no job started
    assert not (tmp_path / 'results').exists()


@pytest.mark.parametrize('case, message', [
    ('file', r"dataset.root '[^']*/ds' is a file, not a folder"),
    ('foreign', r"dataset.root '[^']*/ds' is a non-empty folder that is not a complete synthetic dataset"),
    ('other_parameters', r"dataset.root '[^']*/ds' holds a synthetic dataset generated with other parameters "
                         r"\(dataset.synthetic.num_train: 2 in the dataset, 3 wanted; "
                         r"dataset.synthetic.image_size: 72 in the dataset, 64 wanted\).*Choose another "
                         r"dataset.root .*or delete the folder"),
    ('stale_marker', r"dataset.root '[^']*/ds' holds no synthetic dataset, but its marker '[^']*/ds.ready' says"),
])
def test_unusable_synthetic_root_fails_before_any_job(tmp_path, smk, case, message):
    data = tmp_path / 'data'
    data.mkdir()
    root = data / 'ds'
    if case == 'file':
        root.write_text('not a folder')
    elif case == 'foreign':
        root.mkdir()
        (root / 'mine.txt').write_text('keep me')
    elif case == 'other_parameters':
        generate(root, **{**SMALL, 'num_train': 2, 'image_size': 72})
    else:
        (data / 'ds.ready').write_text('{}')
    before = _state(data)
    config = _config(smk, tmp_path / 'bad.yaml', root)
    proc = smk.run(tmp_path, '--cores', '1', configfiles=[config])  # a real run, not a dry run
    _refused_before_any_job(proc, tmp_path, message)
    assert _state(data) == before  # nothing deleted or rewritten


def test_rerun_reuses_the_dataset_and_other_parameters_are_refused(tmp_path, smk):
    root = tmp_path / 'results' / 'data' / 'tiny'
    marker = 'results/data/tiny.ready'
    config = _config(smk, tmp_path / 'c.yaml', 'results/data/tiny')
    log = tmp_path / 'results' / 'logs' / 'data' / 'synthetic.log'

    smk.run(tmp_path, '--cores', '1', marker, configfiles=[config], check=True)
    assert (root / COMPLETE_MARKER).is_file() and (tmp_path / marker).is_file()
    generated = _state(root)
    assert len([name for name in generated if name.endswith('.png')]) == 4

    # the rule forced to rerun, then its marker deleted: Snakemake deletes the marker, never the dataset, and the
    # generator reuses the dataset (same parameters) instead of refusing or rewriting it
    for args in (('-R', 'synthetic_data'), ()):
        if not args:
            (tmp_path / marker).unlink()
        proc = smk.run(tmp_path, '--cores', '1', marker, *args, configfiles=[config], check=True)
        assert 'rule synthetic_data' in proc.stdout
        assert 'synthetic dataset ready' in log.read_text()
        assert _state(root) == generated
        assert (tmp_path / marker).read_text() == (root / COMPLETE_MARKER).read_text()

    # a generator parameter changed after the generation: refused while the DAG is built, the dataset intact
    changed = _config(smk, tmp_path / 'changed.yaml', 'results/data/tiny', num_train=4)
    kept = _state(tmp_path / 'results')
    proc = smk.run(tmp_path, '--cores', '1', configfiles=[changed])
    assert proc.returncode != 0
    assert re.search(r"dataset.synthetic.num_train: 3 in the dataset, 4 wanted", proc.stdout), proc.stdout[-3000:]
    assert 'rule ' not in proc.stdout and 'jobid' not in proc.stdout
    assert _state(tmp_path / 'results') == kept
