"""The collect_metrics script (workflow/scripts/collect_metrics.py) outside Snakemake."""
import csv
import importlib.util
import json
from pathlib import Path

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
