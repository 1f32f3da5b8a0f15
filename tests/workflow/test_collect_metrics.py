"""The collect_metrics script (workflow/scripts/collect_metrics.py) outside Snakemake."""
import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_script():
    spec = importlib.util.spec_from_file_location('collect_metrics', REPO / 'workflow' / 'scripts' /
                                                  'collect_metrics.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(arm, seed, ap):
    per_iou = {f'{0.5 + 0.05 * i:.2f}': ap / (i + 1) for i in range(10)}
    return dict(run=dict(family='synthetic', arm=arm, variant='default', seed=seed, dataset='synthetic',
                         hyperparameters=dict(iou_topk=75, beta_topk=10, update_iter_interval=100)),
                metrics=dict(AP=ap, AP50=per_iou['0.50'], AP75=per_iou['0.75'], APS=-1.0, APM=0.2, APL=0.3,
                             AP_at_iou=per_iou),
                provenance=dict(git_commit='abc', device='cpu', wall_time_s=1.0))


def test_collects_every_run_in_order(tmp_path):
    module = _load_script()
    files = []
    for arm, seed, ap in [('dla', 0, 0.25), ('baseline', 1, 0.2), ('baseline', 0, 0.1)]:
        path = tmp_path / f'{arm}{seed}.json'
        path.write_text(json.dumps(_record(arm, seed, ap)))
        files.append(str(path))
    module.main(files, str(tmp_path / 'm.csv'), str(tmp_path / 'm.md'))
    rows = list(csv.DictReader(open(tmp_path / 'm.csv')))
    assert [(r['arm'], r['seed']) for r in rows] == [('baseline', '0'), ('baseline', '1'), ('dla', '0')]
    assert float(rows[2]['AP']) == 0.25 and float(rows[2]['AP90']) == 0.25 / 9
    md = (tmp_path / 'm.md').read_text()
    assert '| dla | default | 0 | 25.0 |' in md
    assert 'n/a (-1)' in md  # undefined APS stays visible as undefined


def _run_as_snakemake_script(files, out):
    """Run the script as the collect_metrics rule does: as __main__, with a `snakemake` object in its globals."""
    import runpy
    from types import SimpleNamespace
    job = SimpleNamespace(input=SimpleNamespace(metrics=[str(f) for f in files]),
                          output=SimpleNamespace(csv=str(out / 'm.csv'), md=str(out / 'm.md')),
                          log=[str(out / 'collect.log')])
    try:
        runpy.run_path(str(REPO / 'workflow' / 'scripts' / 'collect_metrics.py'), init_globals={'snakemake': job},
                       run_name='__main__')
    except SystemExit as e:
        return e.code
    raise AssertionError('the script did not exit with a status')


@pytest.mark.parametrize('content, problem', [
    (lambda: json.dumps(_record('dla', 0, 0.25))[:40], 'not a readable JSON file (JSONDecodeError'),
    (lambda: json.dumps({k: v for k, v in _record('dla', 0, 0.25).items() if k != 'run'}),
     "incomplete metrics record (missing key 'run')"),
    (lambda: json.dumps(dict(_record('dla', 0, 0.25), metrics={'AP': 0.1})), 'incomplete metrics record (missing key'),
])
def test_bad_metrics_file_is_named_in_log_and_console(tmp_path, capsys, content, problem):
    good = tmp_path / 'baseline0.json'
    good.write_text(json.dumps(_record('baseline', 0, 0.1)))
    bad = tmp_path / 'dla0.json'
    bad.write_text(content())
    out = tmp_path / 'out'
    out.mkdir()
    assert _run_as_snakemake_script([good, bad], out) == 1
    message = f'collect_metrics: {bad}: {problem}'
    fix = f'Delete {bad} so that the pipeline re-evaluates that run'
    log = (out / 'collect.log').read_text()
    assert message in log and fix in log and 'Traceback' not in log
    err = capsys.readouterr().err
    assert message in err and fix in err  # the console too, not only the log
    assert bad.exists() and good.exists()  # nothing produced is deleted
    assert not (out / 'm.csv').exists() and not (out / 'm.md').exists()
    assert sys.stderr is not None and not getattr(sys.stderr, 'closed', False)


def test_good_metrics_exit_zero(tmp_path):
    good = tmp_path / 'baseline0.json'
    good.write_text(json.dumps(_record('baseline', 0, 0.1)))
    out = tmp_path / 'out'
    out.mkdir()
    assert _run_as_snakemake_script([good], out) == 0
    assert (out / 'm.csv').exists() and (out / 'collect.log').read_text() == ''
