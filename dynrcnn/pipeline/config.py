"""The pipeline config: loading, the schema (defaults filled in) and the checks across fields.

Everything that can be wrong in a pipeline config raises one :class:`PipelineConfigError` with a one-line message
naming the key and the fix; the Snakefile turns it into Snakemake's ``WorkflowError("Invalid pipeline config:
...")`` while the DAG is built, before any job starts. Imports neither torch nor mmdet.
"""

import re
from pathlib import Path

from dynrcnn import controls, families
from dynrcnn.dynamic_settings import check_dynamic_cfg
from dynrcnn.families import FAMILY_DATASETS, families_of
from dynrcnn.run_record import DYNAMIC_RCNN_KEY, HYPERPARAMETERS

#: The repository (the schema, the MMDetection configs and the Snakefile live in it).
REPO = Path(__file__).resolve().parents[2]
#: Every key of the pipeline config, its type and its default.
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SCHEMA_NAME = "workflow/schemas/config.schema.yaml"


_LOADER_PATHS = r"(train|val|test)_dataloader\.dataset(\.dataset)*\.(data_root|ann_file|data_prefix)(\..+)?"
#: train.cfg_options keys the pipeline sets itself (an option would silently override the pipeline's value, or be
#: overwritten by dynrcnn.tools.train): (key regex, who sets it, what to do instead).
OWNED_CFG_OPTIONS = (
    (
        rf"{re.escape(DYNAMIC_RCNN_KEY)}\.(?P<name>iou_topk|beta_topk|update_iter_interval)",
        "the pipeline, per run, from sweeps.{name} (the run's variant name ki..-kb..-c.. records it)",
        "remove the option and list the value in sweeps.{name} (with sweeps.arms)",
    ),
    (
        rf"{re.escape(DYNAMIC_RCNN_KEY)}\.(dynamic_label|dynamic_loss)",
        "the arm's config (baseline, dla, dsl and dynamic_rcnn are the four DLA/DSL combinations)",
        "remove the option and choose the arms in arms (and sweeps.arms)",
    ),
    (
        re.escape(DYNAMIC_RCNN_KEY),
        "the arm's config and the sweeps (setting the whole block would drop them)",
        f"set single keys instead, e.g. {DYNAMIC_RCNN_KEY}.initial_iou=0.5",
    ),
    (r"train_cfg\.max_epochs", "train.max_epochs", "remove the option and set train.max_epochs"),
    (r"train_dataloader\.batch_size", "images_per_gpu", "remove the option and set images_per_gpu"),
    (
        rf"data_root|{_LOADER_PATHS}|(val|test)_evaluator(\.[0-9]+)?\.ann_file",
        "dynrcnn.tools.train from dataset.root (it overwrites every dataloader's and evaluator's paths)",
        "remove the option and set dataset.root (and dataset.name)",
    ),
    (
        r"(val|test)_evaluator(\.[0-9]+)?\.outfile_prefix",
        "the pipeline (the evaluate and epoch_detections rules write the detections into the run folder)",
        "remove the option",
    ),
    (
        r"work_dir",
        "the pipeline (results/work/{{family}}/{{arm}}/{{variant}}/seed{{seed}})",
        "remove the option; run Snakemake with --directory to put results/ elsewhere",
    ),
    (
        r"randomness(\..+)?",
        "dynrcnn.tools.train from seeds and train.deterministic",
        "remove the option and set seeds / train.deterministic",
    ),
    (r"launcher", "the train rule from gpus_per_job", "remove the option and set gpus_per_job"),
    (
        r"resume",
        "dynrcnn.tools.train (a training resumes from its work dir's newest checkpoint)",
        "remove the option; to start a run over, delete its folder in results/work/",
    ),
    (
        r"visualizer\.vis_backends(\..+)?",
        "dynrcnn.tools.train from tracking.backends (mmengine's TensorBoard and W&B backends, fail-safe)",
        "remove the option and set tracking.backends (and tracking.wandb)",
    ),
)


class PipelineConfigError(ValueError):
    """A pipeline config the pipeline cannot run; the message is one line naming the key and the fix."""


def load(*paths):
    """The pipeline config of YAML files, each updating the previous ones key by key (as ``snakemake
    --configfile A B`` merges them); not yet validated.

    Raises:
        PipelineConfigError: a file is missing or unreadable, is not valid YAML (the message names its line and
            column) or does not hold a mapping.
    """
    config = {}
    for path in paths:
        _update(config, load_file(path))
    return config


def load_file(path):
    """One pipeline config file (a YAML mapping; an empty file is an empty config), or one error line naming the
    file, the line and the fix.

    Raises:
        PipelineConfigError: see :func:`load`.
    """
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise PipelineConfigError(
            f"{path}: no such config file; check the path (the project's pipeline configs are in configs/pipeline/)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise PipelineConfigError(f"{path}: cannot read the config file ({e}); give a readable YAML file") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        context, start = getattr(e, "context", None), getattr(e, "context_mark", None)
        if context and start and mark and start.line != mark.line:
            problem += f", {context} started at line {start.line + 1}"
        raise PipelineConfigError(
            f"{path}{where}: not valid YAML ({problem}); fix the syntax there (keys as in "
            "configs/pipeline/default.yaml: 'key: value', nested keys indented with spaces, lists as [a, b])"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PipelineConfigError(
            f"{path}: holds a {type(data).__name__}, not a mapping of keys; write the config as 'key: value' lines "
            f"(every key: {SCHEMA_NAME})"
        )
    return data


def _update(config, overrides):
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            _update(config[key], value)
        else:
            config[key] = value


def validate(config, schema=SCHEMA):
    """Check a pipeline config: the schema (its defaults filled into ``config``, as ``snakemake.utils.validate``
    does), then the checks across fields.

    Args:
        config (dict): the config, completed in place.
        schema (str | Path): the JSON schema (YAML).

    Returns:
        dict: ``config``.

    Raises:
        PipelineConfigError: the first problem found.
    """
    _check_schema(config, schema)
    _check_extra_seeds(config)
    _check_dataset_family(config)
    _check_schedule(config)
    _check_sweeps(config)
    _check_cfg_options(config)
    _check_controls(config)
    _check_processes(config)
    return config


def _check_processes(config):
    gpus, processes = config["gpus_per_job"], config["processes_per_job"]
    if processes > 1 and gpus:
        raise PipelineConfigError(
            f"processes_per_job is {processes} but gpus_per_job is {gpus}: a GPU training runs one process per GPU; "
            "set processes_per_job: 1 (or gpus_per_job: 0 for a multi-process training on CPU)"
        )


def _check_schema(config, schema):
    """The schema's checks with its defaults filled in; a violation is one line naming the field
    (``sweeps.iou_topk[0]: -5 is less than the minimum of 1``), not jsonschema's dump of the schema."""
    import yaml
    from jsonschema import Draft202012Validator, validators

    with open(schema, encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, props, instance, subschema):  # snakemake.utils.validate's default filling
        for name, prop in props.items():
            if "default" in prop and isinstance(instance, dict):
                instance.setdefault(name, prop["default"])
        yield from properties(validator, props, instance, subschema)

    validator = validators.extend(Draft202012Validator, {"properties": set_defaults})(schema)
    error = next(iter(validator.iter_errors(config)), None)
    if error is not None:
        field = ""
        for part in error.absolute_path:
            field += f"[{part}]" if isinstance(part, int) else f".{part}" if field else str(part)
        raise PipelineConfigError(
            f"{field or 'top level'}: {error.message} (every key, its type and default: {SCHEMA_NAME})"
        )


def _check_extra_seeds(config):
    for arm in config["extra_seeds"]:
        if arm not in config["arms"]:
            raise PipelineConfigError(
                f"extra_seeds.{arm}: {arm!r} is not in arms {config['arms']}, so its extra seeds would train an arm "
                f"the config does not compare; add {arm} to arms or remove extra_seeds.{arm}"
            )


def _check_dataset_family(config):
    family, dataset = config["family"], config["dataset"]["name"]
    expected = FAMILY_DATASETS[family]
    if dataset != expected:
        raise PipelineConfigError(
            f"dataset.name is {dataset!r} but family is {family!r}, whose configs (configs/{family}/) are made for "
            f"dataset.name {expected!r}; set family: {' or '.join(families_of(dataset))} to train on {dataset}, or "
            f"dataset.name: {expected}"
        )


def _check_schedule(config):
    family = config["family"]
    if config["train"]["max_epochs"] and families.family(family).schedule != "epoch":
        raise PipelineConfigError(
            f"train.max_epochs is set but family {family!r} trains by iteration (IterBasedTrainLoop); remove "
            "train.max_epochs and shorten it with train.cfg_options, e.g. ['train_cfg.max_iters=N', "
            "'train_cfg.val_interval=N'] (and the schedule's milestones)"
        )


def _check_sweeps(config):
    sweeps = config["sweeps"]
    swept = [f"sweeps.{k}" for k in HYPERPARAMETERS if sweeps[k]]
    if swept and not sweeps["arms"]:
        raise PipelineConfigError(
            f"{' and '.join(swept)} {'is' if len(swept) == 1 else 'are'} set but sweeps.arms is empty, so no sweep "
            "run would be trained; list the arms to sweep in sweeps.arms (e.g. [dynamic_rcnn]) or empty the sweep "
            "lists"
        )
    if "baseline" in sweeps["arms"]:
        raise PipelineConfigError(
            "sweeps.arms contains 'baseline', whose DLA and DSL are off: K_I, K_beta and C do not change it, so its "
            "sweep variants would be duplicate trainings of one model; remove 'baseline' from sweeps.arms (the arms "
            "list trains it)"
        )


def _check_cfg_options(config):
    """Reject train.cfg_options keys the pipeline owns; check model.train_cfg.rcnn.dynamic_rcnn.* values."""
    for i, option in enumerate(config["train"]["cfg_options"]):
        key, value = option.split("=", 1)
        where = f"train.cfg_options[{i}] {option!r}"
        for pattern, setter, fix in OWNED_CFG_OPTIONS:
            match = re.fullmatch(pattern, key)
            if match:
                names = match.groupdict()
                raise PipelineConfigError(f"{where}: {key} is set by {setter.format(**names)}; {fix.format(**names)}")
        parts = key.split(".")
        if parts[0] in ("train_cfg", "test_cfg") and len(parts) > 1 and parts[1] in ("rpn", "rpn_proposal", "rcnn"):
            raise PipelineConfigError(
                f"{where}: the top-level {parts[0]} is the training loop's settings; model keys start with 'model.' "
                f"(write model.{key})"
            )
        if key.startswith(f"{DYNAMIC_RCNN_KEY}."):
            name = key[len(DYNAMIC_RCNN_KEY) + 1 :]
            if "." in name:
                raise PipelineConfigError(
                    f"{where}: {DYNAMIC_RCNN_KEY} holds plain values; write "
                    f"{DYNAMIC_RCNN_KEY}.{name.split('.')[0]}=VALUE"
                )
            _check_dynamic_option(where, name, value)


def _check_dynamic_option(where, name, text):
    """A model.train_cfg.rcnn.dynamic_rcnn.* value as the training will see it, checked by AblationRoIHead's own
    checker (dynrcnn.dynamic_settings). The value is parsed by mmengine's --cfg-options parser itself, the one the
    training uses (mmengine.config imports neither torch nor mmdet), so that both see the same value."""
    from mmengine.config import DictAction

    try:
        value = DictAction._parse_iterable(text)
    except AssertionError as e:
        raise PipelineConfigError(f"{where}: cannot parse the value ({e})") from None
    try:
        check_dynamic_cfg({name: value})
    except ValueError as e:
        raise PipelineConfigError(f"{where}: {e} Fix the value or remove the option") from None


def controls_requested(config):
    """Whether the config asks for any control run (config['controls'])."""
    controls = config["controls"]
    return bool(controls["betas"] or controls["l1"] or controls["iou_thresholds"] or controls["static_endpoint"])


def _check_controls(config):
    """Controls need the baseline (and, for the static endpoint, the full arm) and a baseline whose assigner and
    box loss are the config family's (the values a control fixes; the schema checks the ranges)."""
    if not controls_requested(config):
        return
    arms = config["arms"]
    if controls.CONTROL_ARM not in arms:
        raise PipelineConfigError(
            f"controls are set but arms has no {controls.CONTROL_ARM!r}: every control is a run of the baseline with "
            f"fixed values, compared with it; add {controls.CONTROL_ARM} to arms or empty controls"
        )
    if config["controls"]["static_endpoint"] and controls.STATIC_SOURCE_ARM not in arms:
        raise PipelineConfigError(
            f"controls.static_endpoint is true but arms has no {controls.STATIC_SOURCE_ARM!r}: the static endpoint "
            f"takes its threshold and beta from the final values of the {controls.STATIC_SOURCE_ARM} run of the "
            f"same seed; add {controls.STATIC_SOURCE_ARM} to arms or set controls.static_endpoint: false"
        )
    for i, option in enumerate(config["train"]["cfg_options"]):
        key = option.split("=", 1)[0]
        for owned in (controls.ASSIGNER_KEY, controls.LOSS_BBOX_KEY):
            if key == owned or key.startswith(owned + "."):
                raise PipelineConfigError(
                    f"train.cfg_options[{i}] {option!r}: {owned} is what the controls fix, so with controls set it "
                    "would change the baseline they are compared with (and the controls' own values); remove the "
                    "option or empty controls"
                )


def main(argv=None):
    """``python -m dynrcnn.pipeline FILE...``: load and validate pipeline config files as ``snakemake
    --configfile FILE...`` would (``make run CONFIG=...`` runs it first); a problem is one line on stderr, exit 1.

    Args:
        argv (list[str] | None): the files (default ``sys.argv[1:]``).

    Returns:
        int: the exit status.
    """
    import sys

    paths = sys.argv[1:] if argv is None else list(argv)
    if not paths or any(p.startswith("-") for p in paths):
        print("usage: python -m dynrcnn.pipeline FILE... (pipeline config files, merged in order)", file=sys.stderr)
        return 2
    try:
        validate(load(*paths))
    except PipelineConfigError as e:
        print(f"Invalid pipeline config: {e}", file=sys.stderr)
        return 1
    print(f"{' '.join(paths)}: a valid pipeline config")
    return 0
