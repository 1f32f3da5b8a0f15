"""Mixed provenance: the runs of a report whose code, config, packages or machine differ from the rest.

A report compares runs; a run trained at another git commit, with other package versions, on another device (the
same seed moved AP by up to 1.6 points between two CPU machines of the same kind, issue 24) or, within its arm and
variant, with another resolved config, may differ for that reason alone. :func:`flag_runs` finds those runs and the
comparisons they enter; :func:`render_notice` writes the short markdown notice the runs table and the verdict page
show. Standard library only (no torch, no pandas): it reads the loaded runs (:class:`analysis.runs.Run`) and, for
the resolved config, each run folder's ``config.py``.

The reference value of a field is the most common one among the runs compared (ties: the value of the first run in
report order); a run is flagged for each field whose value differs from it. Missing values (``None``, an old
metrics.json) are compared like any other value.
"""

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dynrcnn.run_record import CONFIG_FILE, DEFAULT_VARIANT, STATIC_SOURCE_ARM, parse_control

#: The fields compared, in the order the notice names them, with their label.
FIELDS = {
    "git_commit": "git commit",
    "config": "resolved config",
    "packages": "package versions",
    "device": "device",
    "cpu_model": "CPU model",
}
#: The baseline arm every other arm's gain is measured against.
BASELINE = "baseline"
#: The full arm, compared with each single component (additivity), and those components.
FULL = "dynamic_rcnn"
SINGLE_COMPONENTS = ("dla", "dsl")

_WORK_DIR_LINE = re.compile(r"^work_dir\s*=.*$", re.MULTILINE)
_SEED = re.compile(r"(randomness\s*=\s*dict\([^)]*?\bseed\s*=\s*)[0-9]+")


@dataclass
class Flag:
    """A run whose provenance differs from the rest.

    Args:
        run (str): the run's name, ``{arm}/{variant}/seed{seed}``.
        fields (dict): field (a key of :data:`FIELDS`) -> ``(this run's value, the others' value)``, as text.
        comparisons (list[str]): the report's comparisons the run enters, e.g. ``"dla vs baseline (AP gains)"``.
    """

    run: str
    fields: dict = field(default_factory=dict)
    comparisons: list = field(default_factory=list)


def config_fingerprint(run):
    """A hash of the run's resolved config (``config.py`` in its run folder) less what differs by design between
    the seeds of one arm and variant: the seed and the work dir. None when the run folder has no ``config.py``.

    metrics.json's ``config_sha256`` is the hash of the whole resolved config, seed and work dir included, so it
    differs between the seeds of one variant and cannot say whether their configs agree.
    """
    path = Path(run.path) / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    text = _SEED.sub(r"\g<1><seed>", _WORK_DIR_LINE.sub("work_dir = <work_dir>", text))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _packages(provenance):
    packages = provenance.get("packages")
    if not isinstance(packages, dict):
        return "unknown"
    return ", ".join(f"{k} {v}" for k, v in sorted(packages.items()))


def _value(run, key):
    prov = run.provenance or {}
    if key == "git_commit":
        return str(prov.get("git_commit"))
    if key == "config":
        return config_fingerprint(run)
    if key == "packages":
        return _packages(prov)
    if key == "device":
        return str(prov.get("device"))
    if key == "cpu_model":  # what a CPU run's numbers depend on; a GPU run's host CPU is not compared
        return str(prov.get("cpu_model")) if prov.get("device") == "cpu" else None
    raise KeyError(key)


def _reference(values):
    """The most common value (ties: the first seen)."""
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def _package_difference(mine, others):
    """The packages whose versions differ, as ``name A (others B)``."""

    def parse(text):
        return dict(item.split(" ", 1) for item in text.split(", ") if " " in item)

    a, b = parse(mine), parse(others)
    names = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return ", ".join(f"{k} {a.get(k)}" for k in names), ", ".join(f"{k} {b.get(k)}" for k in names)


def _additivity_sides(arm, present):
    """The single components the full arm is compared with (additivity) that ``arm``'s default run enters."""
    if (FULL, DEFAULT_VARIANT) not in present:
        return []
    sides = [a for a in SINGLE_COMPONENTS if (a, DEFAULT_VARIANT) in present]
    return sides if arm == FULL else [arm] if arm in sides else []


def comparisons(run, runs):
    """The report's comparisons that ``run`` enters, given all ``runs``.

    An arm's default variant is compared with the baseline's (gains table, component ablation); the baseline's
    default enters every such comparison. The full arm's default is compared with DLA's and DSL's (additivity). A
    sweep variant is compared with its arm's default variant, and that default enters each of its variants'
    comparisons. A control (a baseline variant) is compared with the baseline
    and the full Dynamic R-CNN run, which enter the controls table too.

    Returns:
        list[str]
    """
    present = {(r.arm, r.variant) for r in runs}
    arms = sorted({r.arm for r in runs if r.variant == DEFAULT_VARIANT and r.arm != BASELINE})
    controls = sorted({r.variant for r in runs if r.variant != DEFAULT_VARIANT and parse_control(r.variant)})
    sweeps = sorted({(r.arm, r.variant) for r in runs if r.variant != DEFAULT_VARIANT and not parse_control(r.variant)})
    found = []
    if run.variant == DEFAULT_VARIANT:
        if run.arm == BASELINE:
            found += [f"{arm} vs baseline (AP gains)" for arm in arms]
            found += [f"control {v} vs baseline (controls)" for v in controls]
        elif (BASELINE, DEFAULT_VARIANT) in present:
            found.append(f"{run.arm} vs baseline (AP gains)")
        found += [f"{FULL} vs {arm} (additivity)" for arm in _additivity_sides(run.arm, present)]
        if run.arm == STATIC_SOURCE_ARM:
            found += [f"control {v} vs {STATIC_SOURCE_ARM} (controls)" for v in controls]
        found += [f"{arm} {v} vs {arm} default (sweep)" for arm, v in sweeps if arm == run.arm]
    elif parse_control(run.variant):
        found.append(f"control {run.variant} vs baseline (controls)")
        if (STATIC_SOURCE_ARM, DEFAULT_VARIANT) in present:
            found.append(f"control {run.variant} vs {STATIC_SOURCE_ARM} (controls)")
    else:
        found.append(f"{run.arm} {run.variant} vs {run.arm} default (sweep)")
    return found


def flag_runs(runs):
    """The runs whose provenance differs from the rest.

    Compared over all runs: the git commit, the package versions, the device and (CPU runs) the CPU model. Compared
    within each arm and variant (other arms and variants have other configs by design): the resolved config less
    seed and work dir (:func:`config_fingerprint`; runs without a ``config.py`` are not compared).

    Args:
        runs (list[analysis.runs.Run]): the loaded runs (anything with ``arm``, ``variant``, ``seed``, ``name``,
            ``path`` and ``provenance`` will do).

    Returns:
        list[Flag]: one per flagged run, in the order of ``runs``; empty when every run agrees.
    """
    flags = {}

    def compare(group, key):
        values = [(run, _value(run, key)) for run in group]
        values = [(run, v) for run, v in values if v is not None]  # not compared: no config.py, a GPU's CPU
        if len({v for _, v in values}) < 2:
            return
        reference = _reference([v for _, v in values])
        for run, value in values:
            if value != reference:
                flag = flags.setdefault(run.name, Flag(run.name))
                if key == "packages":
                    flag.fields[key] = _package_difference(value, reference)
                else:
                    flag.fields[key] = (value, reference)

    for key in ("git_commit", "packages", "device", "cpu_model"):
        compare(list(runs), key)
    groups = {}
    for run in runs:
        groups.setdefault((run.arm, run.variant), []).append(run)
    for group in groups.values():
        compare(group, "config")
    ordered = []
    for run in runs:
        if run.name in flags:
            flag = flags[run.name]
            flag.fields = {k: flag.fields[k] for k in FIELDS if k in flag.fields}
            flag.comparisons = comparisons(run, runs)
            ordered.append(flag)
    return ordered


def render_notice(flags):
    """A short markdown notice of :func:`flag_runs`'s flags ('' when there are none).

    Returns:
        str: a heading line, one bullet per flagged run (what differs, its value and the others', the comparisons
        it enters) and one closing line.
    """
    if not flags:
        return ""
    lines = [
        f"**Mixed provenance: {len(flags)} run{'s' * (len(flags) != 1)} differ from the rest** (the reference "
        "is the value most runs share).",
        "",
    ]
    for flag in flags:
        what = "; ".join(f"{FIELDS[k]} {mine} (others {theirs})" for k, (mine, theirs) in flag.fields.items())
        enters = ", ".join(flag.comparisons) if flag.comparisons else "no comparison"
        lines.append(f"- `{flag.run}`: {what}. Enters: {enters}.")
    lines += [
        "",
        "A difference between these runs may come from the code, the packages or the machine rather than from the "
        "method; retrain them with the rest (same commit, environment and device) before reading those "
        "comparisons.",
    ]
    return "\n".join(lines) + "\n"
