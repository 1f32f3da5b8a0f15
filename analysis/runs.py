"""Read finished runs (``{runs_dir}/{arm}/{variant}/seed{seed}/``) and validate them.

Everything is read and checked before any report file is written, so a missing or corrupt run
output stops the report with one message that names the run and the file.
"""

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .style import ARMS

BASIC_METRICS = ('AP', 'AP50', 'AP75', 'APS', 'APM', 'APL')
# '%.2f' keys: np.linspace holds 0.8999999999999999, formatting gives '0.90'.
IOU_KEYS = tuple(f'{t:.2f}' for t in np.linspace(0.5, 0.95, 10))
HYPERPARAMETERS = ('iou_topk', 'beta_topk', 'update_iter_interval')
DEFAULT_VARIANT = 'default'
VARIANT_RE = re.compile(r'^ki(\d+)-kb(\d+)-c(\d+)$')
SEED_RE = re.compile(r'^seed(\d+)$')
DETECTION_RE = re.compile(r'^epoch_(\d+)\.bbox\.json$')


class RunOutputError(Exception):
    """A run's output is missing or corrupt (the message names the run and the file)."""


@dataclass
class Run:
    """One finished training run.

    Args:
        arm (str): ablation arm.
        variant (str): ``default`` or ``ki{K_I}-kb{K_beta}-c{C}``.
        seed (int): random seed.
        path (Path): the run folder.
        dataset (str): ``synthetic`` or ``coco``.
        metrics (dict): metric name -> fraction in [0, 1], NaN where COCOeval gave -1 (undefined).
            Names: ``AP``, ``AP50``, ``AP75``, ``APS``, ``APM``, ``APL`` and ``AP@0.50`` ... ``AP@0.95``.
        hyperparameters (dict): ``iou_topk``, ``beta_topk``, ``update_iter_interval``.
        provenance (dict): the ``provenance`` block of metrics.json.
        train (pd.DataFrame): training scalars, one row per logged iteration, column ``step``.
        val (pd.DataFrame): validation scalars, one row per evaluation, column ``step`` (= epoch).
        detections (dict): epoch -> path of ``detections/epoch_{N}.bbox.json``.
    """

    arm: str
    variant: str
    seed: int
    path: Path
    dataset: str
    metrics: dict
    hyperparameters: dict
    provenance: dict
    train: pd.DataFrame = field(repr=False)
    val: pd.DataFrame = field(repr=False)
    detections: dict = field(repr=False)

    @property
    def name(self):
        """str: ``{arm}/{variant}/seed{seed}``, the name used in messages."""
        return f'{self.arm}/{self.variant}/seed{self.seed}'


def _fail(run_name, path, problem, fix):
    raise RunOutputError(f'run {run_name}: {path}: {problem}. {fix}')


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _metric(run_name, path, where, value):
    """A COCOeval number as a fraction; -1 (undefined) becomes NaN."""
    if not _number(value) or not (value == -1 or 0 <= value <= 1):
        _fail(run_name, path, f'{where} is {value!r}, expected a fraction in [0, 1] or -1 (undefined)',
              'Metrics must be COCOeval fractions; re-run the evaluation step of this run')
    return float('nan') if value == -1 else float(value)


def read_metrics(path, run_name, arm, variant, seed):
    """Read and check one metrics.json against the run's folder.

    Args:
        path (Path): the metrics.json file.
        run_name (str): name for messages.
        arm (str): arm from the folder name.
        variant (str): variant from the folder name.
        seed (int): seed from the folder name.

    Returns:
        tuple[dict, dict, dict, dict]: metrics, hyperparameters, provenance and the ``run`` block.
    """
    fix = 'Re-run this run\'s evaluation (delete the file and let the pipeline regenerate it)'
    if not path.is_file():
        _fail(run_name, path, 'missing', fix)
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        _fail(run_name, path, f'not valid JSON ({e})', fix)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), dict) for k in ('run', 'metrics')):
        _fail(run_name, path, 'expected an object with "run" and "metrics" objects', fix)
    run, raw = data['run'], data['metrics']
    for key, expected in (('arm', arm), ('variant', variant), ('seed', seed)):
        if run.get(key) != expected:
            _fail(run_name, path, f'run.{key} is {run.get(key)!r} but the folder says {expected!r}',
                  'The file belongs to another run; regenerate it')
    dataset = run.get('dataset')
    if dataset not in ('synthetic', 'coco'):
        _fail(run_name, path, f'run.dataset is {dataset!r}, expected "synthetic" or "coco"', fix)
    hyper = run.get('hyperparameters')
    if not isinstance(hyper, dict) or not all(_number(hyper.get(k)) for k in HYPERPARAMETERS):
        _fail(run_name, path, f'run.hyperparameters must hold numbers {", ".join(HYPERPARAMETERS)}', fix)
    metrics = {}
    for key in BASIC_METRICS:
        if key not in raw:
            _fail(run_name, path, f'metrics.{key} is missing', fix)
        metrics[key] = _metric(run_name, path, f'metrics.{key}', raw[key])
    per_iou = raw.get('AP_at_iou')
    if not isinstance(per_iou, dict) or set(IOU_KEYS) - set(per_iou):
        _fail(run_name, path, f'metrics.AP_at_iou must hold the keys {", ".join(IOU_KEYS)}', fix)
    for key in IOU_KEYS:
        metrics[f'AP@{key}'] = _metric(run_name, path, f'metrics.AP_at_iou["{key}"]', per_iou[key])
    provenance = data.get('provenance') if isinstance(data.get('provenance'), dict) else {}
    return metrics, {k: hyper[k] for k in HYPERPARAMETERS}, provenance, run


def read_scalars(path, run_name):
    """Read mmengine's ``scalars.json`` (JSON lines) into training and validation frames.

    A line with a ``coco/...`` key is a validation line (``step`` = epoch); any other line is a
    training line (``step`` = iteration).

    Args:
        path (Path): the scalars.json file.
        run_name (str): name for messages.

    Returns:
        tuple[pd.DataFrame, pd.DataFrame]: training rows and validation rows, sorted by ``step``.
    """
    fix = 'Copy the training\'s vis_data/scalars.json again (or re-run the training)'
    if not path.is_file():
        _fail(run_name, path, 'missing', fix)
    train, val = [], []
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                _fail(run_name, path, f'line {number} is not valid JSON ({e})', fix)
            if not isinstance(row, dict) or not _number(row.get('step')):
                _fail(run_name, path, f'line {number} has no numeric "step"', fix)
            (val if any(k.startswith('coco/') for k in row) else train).append(row)
    if not train:
        _fail(run_name, path, 'no training iterations logged', fix)
    for row in val:
        # COCOeval's -1 means undefined (no ground truth in that range), not a score
        row.update({k: float('nan') for k, v in row.items() if k.startswith('coco/') and v == -1})
    frames = []
    for rows in (train, val):
        frame = pd.DataFrame(rows) if rows else pd.DataFrame({'step': pd.Series(dtype=float)})
        frames.append(frame.sort_values('step', kind='stable').reset_index(drop=True))
    return frames[0], frames[1]


def find_detections(run_dir, run_name):
    """Per-epoch detection files of a run.

    Args:
        run_dir (Path): the run folder.
        run_name (str): name for messages.

    Returns:
        dict[int, Path]: epoch -> ``detections/epoch_{N}.bbox.json``.
    """
    folder = run_dir / 'detections'
    if not folder.is_dir():
        _fail(run_name, folder, 'missing',
              'The evaluation must save detections/epoch_{N}.bbox.json per checkpoint; re-run it')
    found = {}
    for p in folder.iterdir():
        m = DETECTION_RE.match(p.name)
        if m:
            found[int(m.group(1))] = p
    return dict(sorted(found.items()))


def read_detections(path, run_name, image_ids=None):
    """Read a COCO result-format detection file.

    Args:
        path (Path): ``detections/*.bbox.json``.
        run_name (str): name for messages.
        image_ids (set[int], optional): keep only these images.

    Returns:
        list[dict]: detections with ``image_id``, ``category_id``, ``bbox`` (x, y, w, h), ``score``.
    """
    fix = 'Re-run this run\'s evaluation to rewrite its detections'
    try:
        data = json.loads(Path(path).read_text(encoding='utf-8'))
    except FileNotFoundError:
        _fail(run_name, path, 'missing', fix)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        _fail(run_name, path, f'not valid JSON ({e})', fix)
    if not isinstance(data, list):
        _fail(run_name, path, 'expected a JSON list of detections (COCO result format)', fix)
    kept = []
    for i, det in enumerate(data):
        if (not isinstance(det, dict) or not _number(det.get('score')) or not isinstance(det.get('bbox'), list)
                or len(det['bbox']) != 4 or 'image_id' not in det):
            _fail(run_name, path, f'entry {i} is not a COCO detection (image_id, bbox [x, y, w, h], score)', fix)
        if image_ids is None or det['image_id'] in image_ids:
            kept.append(det)
    return kept


def _subdirs(folder):
    # Hidden folders (.snakemake, editor state) are not runs.
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith('.'))


def load_runs(runs_dir, family=None, dataset=None):
    """Find, read and validate every run under ``runs_dir``.

    Args:
        runs_dir (str | Path): ``results/runs/{family}``, holding ``{arm}/{variant}/seed{seed}/``.
        family (str, optional): expected ``run.family`` (checked when given).
        dataset (str, optional): expected ``run.dataset`` (checked when given).

    Returns:
        list[Run]: sorted by arm order, variant, seed.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RunOutputError(f'runs directory {runs_dir} does not exist; run the trainings first '
                             f'(or pass the right --runs-dir)')
    runs = []
    for arm_dir in _subdirs(runs_dir):
        if arm_dir.name not in ARMS:
            raise RunOutputError(f'{arm_dir}: unknown arm folder {arm_dir.name!r}; expected one of '
                                 f'{", ".join(ARMS)} (move unrelated folders out of {runs_dir})')
        for variant_dir in _subdirs(arm_dir):
            variant = variant_dir.name
            if variant != DEFAULT_VARIANT and not VARIANT_RE.match(variant):
                raise RunOutputError(f'{variant_dir}: variant folder {variant!r} is neither "default" nor '
                                     f'ki{{K_I}}-kb{{K_beta}}-c{{C}}')
            for seed_dir in _subdirs(variant_dir):
                m = SEED_RE.match(seed_dir.name)
                if not m:
                    raise RunOutputError(f'{seed_dir}: expected a seed folder named seed{{N}}')
                runs.append(_load_run(seed_dir, arm_dir.name, variant, int(m.group(1)), family, dataset))
    if not runs:
        raise RunOutputError(f'no runs found under {runs_dir} (expected {{arm}}/{{variant}}/seed{{N}}/metrics.json)')
    return sorted(runs, key=lambda r: (ARMS.index(r.arm), r.variant != DEFAULT_VARIANT, r.variant, r.seed))


def _load_run(seed_dir, arm, variant, seed, family, dataset):
    name = f'{arm}/{variant}/seed{seed}'
    metrics_path = seed_dir / 'metrics.json'
    metrics, hyper, provenance, run_block = read_metrics(metrics_path, name, arm, variant, seed)
    for key, expected, option in (('dataset', dataset, '--dataset'), ('family', family, '--family')):
        if expected is not None and run_block.get(key) != expected:
            _fail(name, metrics_path, f'run.{key} is {run_block.get(key)!r} but the report was asked for '
                  f'{expected!r}', f'Pass the matching {option} or --runs-dir')
    m = VARIANT_RE.match(variant)
    if m and tuple(int(v) for v in m.groups()) != tuple(hyper[k] for k in HYPERPARAMETERS):
        _fail(name, metrics_path, f'run.hyperparameters {hyper} do not match the variant folder {variant!r}',
              'The file belongs to another run; regenerate it')
    train, val = read_scalars(seed_dir / 'scalars.json', name)
    return Run(arm=arm, variant=variant, seed=seed, path=seed_dir, dataset=run_block['dataset'], metrics=metrics,
               hyperparameters=hyper, provenance=provenance, train=train, val=val,
               detections=find_detections(seed_dir, name))
