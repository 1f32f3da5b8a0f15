"""Which finished trainings the workflow retrains, and why: decided from the run folders, printed per run.

The profiles set ``rerun-triggers: mtime``: an edit of a rule's code or params (what a ``git pull`` can bring)
schedules no job whose outputs exist. What still retrains a finished run (one whose ``train_manifest.json`` exists):

* its **training request changed**: what the train rule passes to ``dynrcnn.tools.train`` and what decides the
  run's resolved config besides the config files (the arm's config file, ``--cfg-options``, seed, dataset, dataset
  root, world size, deterministic), compared with what the manifest (and the run folder's resolved ``config.py``)
  recorded. Such a run gets an extra input, ``results/logs/retrain/.../seed{S}.{hash}.txt`` (its reason), which
  :func:`write_markers` writes when the DAG is built, newer than the manifest: the training is planned, with that
  file as the reason in the dry run, until the run is trained with that request (a missing input made by another
  job would not do: Snakemake does not rerun a job whose outputs exist for it);
* a **file it is trained from is newer** than its manifest (the arm's config, the ``_base_.py`` it inherits, the
  dataset marker, a static control's endpoint file): Snakemake's mtime trigger (a fresh clone's config files
  are newer than run folders copied with their times);
* the user asks: ``snakemake --forcerun results/runs/.../train_manifest.json`` (or deleting that file).

A finished run whose checkpoints are gone (its work dir cleaned) is not retrained: its metrics, scalars and
detections stay valid. :func:`decide` says so in one line with the command that retrains one.

Imports no torch or mmdet (mmengine's ``DictAction`` parses the options the way the train tool does).
"""

import hashlib
import json
import os
import re
from dataclasses import dataclass, field

from dynrcnn import run_record

#: Where the retrain_request rule writes the reason of a retraining: one file per run and request.
RETRAIN_ROOT = "results/logs/retrain"
_DETERMINISTIC = re.compile(r"randomness\s*=\s*dict\([^)]*?\bdeterministic\s*=\s*(True|False)")


@dataclass
class Decision:
    """The retraining decisions of a plan.

    Args:
        requests (dict): run -> the path of its retrain marker (only runs whose training request changed).
        reasons (dict): marker path -> its one-line reason (:func:`write_markers` writes it there).
        lines (list[str]): one line per run that will be retrained (and why), and one for the finished runs
            whose checkpoints are gone.
    """

    requests: dict = field(default_factory=dict)
    reasons: dict = field(default_factory=dict)
    lines: list = field(default_factory=list)


def _parse_option(value):
    from mmengine.config import DictAction  # imports neither torch nor mmdet

    return DictAction._parse_iterable(value)


def training_request(plan, run):
    """What the train rule asks of a run's training besides the config files' contents.

    Returns:
        dict: ``config`` (``configs/{family}/{arm}.py``), ``cfg_options`` (``{key: value}`` as the train tool
        parses them), ``seed``, ``dataset``, ``data_root``, ``world_size``, ``deterministic``.
    """
    options = {}
    for option in plan.cfg_options(run.variant):
        key, value = option.split("=", 1)
        options[key] = _parse_option(value)
    return dict(
        config=_config_name(plan.arm_configs[run.arm]),
        cfg_options={k: str(v) for k, v in options.items()},
        seed=int(run.seed),
        dataset=plan.dataset,
        data_root=plan.data_root,
        world_size=int(plan.train_processes),
        deterministic=bool(plan.config["train"]["deterministic"]),
    )


def _config_name(path):
    """``configs/{family}/{arm}.py`` of a config path (the checkout may have moved)."""
    return "/".join(os.path.normpath(str(path)).split(os.sep)[-3:])


def recorded_request(plan, run, manifest):
    """:func:`training_request` as the finished run's manifest and resolved ``config.py`` recorded it (options
    that came from a static control's endpoint file, an input of its own, are left out)."""
    folder = plan.run_dir(run)
    options = {}
    for option in manifest.get("cfg_options") or []:
        key, value = str(option).split("=", 1)
        options[key] = value
    for path in plan.control_inputs(run.variant, run.seed):
        try:
            for key in run_record.read_cfg_options_file(path):
                options.pop(key, None)
        except run_record.RunRecordError:
            pass
    deterministic = None
    try:
        with open(os.path.join(folder, run_record.CONFIG_FILE), encoding="utf-8") as f:
            match = _DETERMINISTIC.search(f.read())
        deterministic = match.group(1) == "True" if match else None
    except OSError:
        pass
    return dict(
        config=_config_name(manifest.get("config", "")),
        cfg_options=options,
        seed=manifest.get("seed"),
        dataset=manifest.get("dataset"),
        data_root=manifest.get("data_root"),
        world_size=manifest.get("world_size"),
        deterministic=deterministic,
    )


def request_changes(wanted, recorded):
    """The differences between a training request and the recorded one, as short phrases (none: the same).
    A value the run folder did not record (``None``) is not compared."""
    changes = []
    for key, value in wanted.items():
        before = recorded.get(key)
        if key == "cfg_options":
            for name in sorted(set(value) | set(before)):
                if value.get(name) != before.get(name):
                    changes.append(f"--cfg-options {name}: {before.get(name, '(none)')} -> {value.get(name, '(none)')}")
        elif before is not None and before != value:
            changes.append(f"{key}: {before} -> {value}")
    return changes


def marker(plan, run, wanted):
    """The retrain marker of a run and a request (its name holds the request's hash)."""
    digest = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:12]
    return f"{RETRAIN_ROOT}/{plan.family}/{run_record.run_name(*run)}.{digest}.txt"


def write_markers(decision):
    """Write the retrain marker of each run whose training request changed (its reason; always rewritten, so it is
    newer than the run's manifest). Called by the workflow's main process when it builds the DAG."""
    from dynrcnn.fileio import atomic_write_text

    for path, reason in decision.reasons.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write_text(path, reason + "\n")


def _mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def decide(plan):
    """Which finished runs of ``plan`` will be retrained and why, and which have lost their checkpoints.

    Reads the run folders below the working directory; writes nothing.

    Returns:
        Decision
    """
    decision = Decision()
    lost = []
    for run in plan.runs:
        folder = plan.run_dir(run)
        manifest_path = os.path.join(folder, run_record.MANIFEST_FILE)
        trained = _mtime(manifest_path)
        if trained is None:
            continue  # not trained yet: Snakemake trains it (missing output)
        try:
            manifest = run_record.read_manifest(folder)
        except run_record.RunRecordError:
            continue  # its evaluation names the problem and the fix
        name = run_record.run_name(*run)
        wanted = training_request(plan, run)
        changes = request_changes(wanted, recorded_request(plan, run, manifest))
        if changes:
            path = marker(plan, run, wanted)
            reason = f"retrain {name}: its training request changed since it was trained ({'; '.join(changes)})"
            decision.requests[run] = path
            decision.reasons[path] = reason
            decision.lines.append(reason)
            continue
        inputs = [plan.arm_configs[run.arm], *plan.arm_config_bases[run.arm], *plan.data_inputs]
        inputs += plan.control_inputs(run.variant, run.seed)
        newer = [p for p in inputs if (_mtime(p) or 0) > trained]
        if newer:
            decision.lines.append(
                f"retrain {name}: {', '.join(newer)} changed after it was trained (newer than {manifest_path}); "
                "to rebuild only the report from the run folders: make report"
            )
        elif not os.path.isfile(manifest["checkpoint"]):
            lost.append(manifest_path)
    if lost:
        decision.lines.append(
            f"{len(lost)} finished run{'s' * (len(lost) != 1)} {'have' if len(lost) != 1 else 'has'} no checkpoint "
            "left (work dir cleaned): not retrained, their metrics, scalars and detections stay; to retrain one: "
            f"snakemake --forcerun {lost[0]} (or delete that file)"
        )
    return decision
