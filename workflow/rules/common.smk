"""Helpers of the pipeline: config validation, the list of runs, and per-rule parameters.

Everything that can be wrong in the pipeline config raises one WorkflowError here, while the DAG is built and
before any job starts.
"""
import functools
import itertools
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


def pipeline_error(message):
    """The one error a bad pipeline config produces (raised while the DAG is built)."""
    return WorkflowError(f"Invalid pipeline config: {message}")


def _validate_config():
    """The schema's checks (its defaults filled in); a violation is one line naming the field
    (`sweeps.iou_topk[0]: -5 is less than the minimum of 1`), not jsonschema's dump of the schema."""
    from jsonschema.exceptions import ValidationError

    try:
        validate(config, "../schemas/config.schema.yaml")
    except WorkflowError as e:
        cause = e.__context__
        if not isinstance(cause, ValidationError):
            raise
        field = ""
        for part in cause.absolute_path:
            field += f"[{part}]" if isinstance(part, int) else f".{part}" if field else str(part)
        raise pipeline_error(f"{field or 'top level'}: {cause.message} (every key, its type and default: "
                             "workflow/schemas/config.schema.yaml)") from None


_validate_config()

ARMS = ("baseline", "dla", "dsl", "dynamic_rcnn")
HYPERPARAMETERS = ("iou_topk", "beta_topk", "update_iter_interval")
DYNAMIC_RCNN_KEY = "model.train_cfg.rcnn.dynamic_rcnn"
VARIANT_PATTERN = r"default|ki[0-9]+-kb[0-9]+-c[0-9]+"
VARIANT_RE = re.compile(r"ki(?P<iou_topk>[0-9]+)-kb(?P<beta_topk>[0-9]+)-c(?P<update_iter_interval>[0-9]+)")
COCO_FILES = ("annotations/instances_train2017.json", "annotations/instances_val2017.json", "train2017", "val2017")
SYNTHETIC_VAL = ("annotations/instances_val.json", "val")

FAMILY = config["family"]
DATASET = config["dataset"]["name"]
# The code and the MMDetection configs live next to the Snakefile; the results go to the working directory.
REPO = Path(workflow.basedir)


def project_module(name):
    """A module of this project's packages (dynrcnn, analysis), imported from the repository: neither a lean
    Snakemake install nor the rule environments need the project installed."""
    import importlib

    sys.path.insert(0, str(REPO))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(REPO))

# The interpreter running Snakemake has the project's stack; a bare `python` may be another one. With
# --sdm conda, the rule's environment provides `python`. The rule environments do not install this project, so
# its packages (dynrcnn, analysis) are imported from the repository: PYTHONPATH through `env`, which also works
# inside the train rule's $launch.
DEPLOYMENT = {str(method) for method in workflow.deployment_settings.deployment_method}
_INTERPRETER = "python" if "conda" in DEPLOYMENT else sys.executable
PYTHON = f"env PYTHONPATH={shlex.quote(str(REPO))} {shlex.quote(_INTERPRETER)}"

#: The dataset each config family is made for, and the family of each dataset.
FAMILY_DATASETS = {"synthetic": "synthetic", "coco_r50_fpn_1x": "coco"}
DATASET_FAMILIES = {dataset: family for family, dataset in FAMILY_DATASETS.items()}
_LOADER_PATHS = r"(train|val|test)_dataloader\.dataset(\.dataset)*\.(data_root|ann_file|data_prefix)(\..+)?"
#: train.cfg_options keys the pipeline sets itself (an option would silently override the pipeline's value, or be
#: overwritten by dynrcnn.tools.train): (key regex, who sets it, what to do instead).
OWNED_CFG_OPTIONS = (
    (rf"{re.escape(DYNAMIC_RCNN_KEY)}\.(?P<name>iou_topk|beta_topk|update_iter_interval)",
     "the pipeline, per run, from sweeps.{name} (the run's variant name ki..-kb..-c.. records it)",
     "remove the option and list the value in sweeps.{name} (with sweeps.arms)"),
    (rf"{re.escape(DYNAMIC_RCNN_KEY)}\.(dynamic_label|dynamic_loss)",
     "the arm's config (baseline, dla, dsl and dynamic_rcnn are the four DLA/DSL combinations)",
     "remove the option and choose the arms in arms (and sweeps.arms)"),
    (re.escape(DYNAMIC_RCNN_KEY),
     "the arm's config and the sweeps (setting the whole block would drop them)",
     f"set single keys instead, e.g. {DYNAMIC_RCNN_KEY}.initial_iou=0.5"),
    (r"train_cfg\.max_epochs", "train.max_epochs", "remove the option and set train.max_epochs"),
    (r"train_dataloader\.batch_size", "images_per_gpu", "remove the option and set images_per_gpu"),
    (rf"data_root|{_LOADER_PATHS}|(val|test)_evaluator(\.[0-9]+)?\.ann_file",
     "dynrcnn.tools.train from dataset.root (it overwrites every dataloader's and evaluator's paths)",
     "remove the option and set dataset.root (and dataset.name)"),
    (r"(val|test)_evaluator(\.[0-9]+)?\.outfile_prefix",
     "dynrcnn.tools.train (the validations' detections, kept as detections/epoch_{{N}}.bbox.json)",
     "remove the option"),
    (r"work_dir", "the pipeline (results/work/{{family}}/{{arm}}/{{variant}}/seed{{seed}})",
     "remove the option; run Snakemake with --directory to put results/ elsewhere"),
    (r"randomness(\..+)?", "dynrcnn.tools.train from seeds and train.deterministic",
     "remove the option and set seeds / train.deterministic"),
    (r"launcher", "the train rule from gpus_per_job", "remove the option and set gpus_per_job"),
    (r"resume", "dynrcnn.tools.train (a training resumes from its work dir's newest checkpoint)",
     "remove the option; to start a run over, delete its folder in results/work/"),
)


def _check_dataset_family():
    expected = FAMILY_DATASETS[FAMILY]
    if DATASET != expected:
        raise pipeline_error(f"dataset.name is {DATASET!r} but family is {FAMILY!r}, whose configs "
                             f"(configs/{FAMILY}/) are made for dataset.name {expected!r}; set family: "
                             f"{DATASET_FAMILIES[DATASET]} to train on {DATASET}, or dataset.name: {expected}")


def _check_sweeps():
    sweeps = config["sweeps"]
    swept = [f"sweeps.{k}" for k in HYPERPARAMETERS if sweeps[k]]
    if swept and not sweeps["arms"]:
        raise pipeline_error(f"{' and '.join(swept)} {'is' if len(swept) == 1 else 'are'} set but sweeps.arms is "
                             "empty, so no sweep run would be trained; list the arms to sweep in sweeps.arms (e.g. "
                             "[dynamic_rcnn]) or empty the sweep lists")
    if "baseline" in sweeps["arms"]:
        raise pipeline_error("sweeps.arms contains 'baseline', whose DLA and DSL are off: K_I, K_beta and C do not "
                             "change it, so its sweep variants would be duplicate trainings of one model; remove "
                             "'baseline' from sweeps.arms (the arms list trains it)")


def _check_cfg_options():
    """Reject train.cfg_options keys the pipeline owns; check model.train_cfg.rcnn.dynamic_rcnn.* values."""
    dynamic = []
    for i, option in enumerate(config["train"]["cfg_options"]):
        key, value = option.split("=", 1)
        where = f"train.cfg_options[{i}] {option!r}"
        for pattern, setter, fix in OWNED_CFG_OPTIONS:
            match = re.fullmatch(pattern, key)
            if match:
                names = match.groupdict()
                raise pipeline_error(f"{where}: {key} is set by {setter.format(**names)}; {fix.format(**names)}")
        parts = key.split(".")
        if parts[0] in ("train_cfg", "test_cfg") and len(parts) > 1 and parts[1] in ("rpn", "rpn_proposal", "rcnn"):
            raise pipeline_error(f"{where}: the top-level {parts[0]} is the training loop's settings; model keys "
                                 f"start with 'model.' (write model.{key})")
        if key.startswith(f"{DYNAMIC_RCNN_KEY}."):
            name = key[len(DYNAMIC_RCNN_KEY) + 1:]
            if "." in name:
                raise pipeline_error(f"{where}: {DYNAMIC_RCNN_KEY} holds plain values; write "
                                     f"{DYNAMIC_RCNN_KEY}.{name.split('.')[0]}=VALUE")
            dynamic.append((where, name, value))
    if dynamic:
        _check_dynamic_options(dynamic)


def _check_dynamic_options(options):
    """The values of model.train_cfg.rcnn.dynamic_rcnn.* options as the training will see them (parsed by mmengine's
    --cfg-options parser), checked by AblationRoIHead's own checker. Imported only when such an option is set
    (it imports torch and mmdet: about 2 s)."""
    from mmengine.config import DictAction

    _check_dynamic_cfg = project_module("dynrcnn.models.roi_heads.ablation_roi_head")._check_dynamic_cfg
    for where, name, text in options:
        try:
            value = DictAction._parse_iterable(text)
        except AssertionError as e:
            raise pipeline_error(f"{where}: cannot parse the value ({e})") from None
        try:
            _check_dynamic_cfg({name: value})
        except ValueError as e:
            raise pipeline_error(f"{where}: {e} Fix the value or remove the option") from None


_check_dataset_family()
_check_sweeps()
_check_cfg_options()

# The verdicts of _check_coco_annotations are cached here (below the working directory's .snakemake/), keyed by the
# file's absolute path, size and mtime: instances_train2017.json is ~450 MB (tens of seconds and GBs of memory to
# parse), so it is parsed once per version of the file, not at every DAG build. Only passes are cached; a changed
# file (new size or mtime) is checked again. Deleting the cache only costs one more parse.
COCO_CHECK_CACHE = ".snakemake/dynrcnn/coco_annotations.json"
COCO_CHECK_VERSION = 1


def _coco_root(root):
    """The COCO 2017 root, checked: the layout and the two annotation files."""
    if not root:
        raise pipeline_error("dataset.name is 'coco' but dataset.root is not set; set it to the COCO 2017 root "
                             "(the folder holding annotations/, train2017/ and val2017/)")
    missing = [name for name in COCO_FILES if not os.path.exists(os.path.join(root, name))]
    if missing:
        raise pipeline_error(f"dataset.root {root!r} is not a COCO 2017 root: missing {', '.join(missing)}. "
                             "Set dataset.root to the folder holding annotations/, train2017/ and val2017/ "
                             "(e.g. in a second --configfile)")
    _check_coco_annotations(root)
    return root


def _coco_annotation_problem(path):
    """What is wrong with a COCO annotation file (None if nothing): JSON object, the three lists, COCO's 80
    category names (in any id order)."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:  # ValueError: JSONDecodeError, UnicodeDecodeError
        return f"not a readable JSON file ({type(e).__name__}: {e})"
    if not isinstance(data, dict):
        return f"not a JSON object (a {type(data).__name__})"
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(data.get(key), list)]
    if missing:
        return f"no {' / '.join(repr(k) for k in missing)} list (a COCO file has 'images', 'annotations', 'categories')"
    from mmdet.datasets import CocoDataset

    coco = list(CocoDataset.METAINFO["classes"])
    names = [c.get("name") if isinstance(c, dict) else c for c in data["categories"]]
    if len(names) == len(coco) and set(names) == set(coco):
        return None
    unexpected = [n for n in names if n not in coco]
    absent = [n for n in coco if n not in names]
    details = [f"{label} {', '.join(map(repr, found[:3]))}{', ...' if len(found) > 3 else ''}"
               for label, found in (("unexpected", unexpected), ("missing", absent)) if found]
    return f"{len(names)} categories, not COCO's {len(coco)} ({'; '.join(details) or 'duplicate names'})"


def _check_coco_annotations(root):
    import json

    try:
        with open(COCO_CHECK_CACHE) as f:
            cache = json.load(f)
        passed = cache["passed"] if cache.get("version") == COCO_CHECK_VERSION else {}
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        passed = {}
    if not isinstance(passed, dict):
        passed = {}
    changed = False
    for rel in COCO_FILES[:2]:
        path = os.path.abspath(os.path.join(root, rel))
        stat = os.stat(path)
        stamp = [stat.st_size, stat.st_mtime_ns]
        if passed.get(path) == stamp:
            continue
        if stat.st_size > 10_000_000:
            print(f"Checking {path} (once per version of the file)", file=sys.stderr, flush=True)
        problem = _coco_annotation_problem(path)
        if problem:
            raise pipeline_error(f"{path}: {problem}. dataset.root must hold COCO 2017's own "
                                 "annotations/instances_{train,val}2017.json (80 categories); point dataset.root at "
                                 "the COCO 2017 root or restore the file")
        passed[path] = stamp
        changed = True
    if changed:
        try:
            os.makedirs(os.path.dirname(COCO_CHECK_CACHE), exist_ok=True)
            tmp = f"{COCO_CHECK_CACHE}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                json.dump({"version": COCO_CHECK_VERSION, "passed": passed}, f, indent=1)
            os.replace(tmp, COCO_CHECK_CACHE)
        except OSError:
            pass  # a cache that cannot be written only costs a parse at the next DAG build


def synthetic_marker(root):
    """The synthetic_data rule's output: a file next to the dataset folder, never inside it (Snakemake deletes a
    job's outputs before rerunning it, and the generator refuses a non-empty folder that lacks its own marker)."""
    return f"{root}.ready"


def _check_synthetic_root(root):
    """Refuse, while the DAG is built, a dataset.root that the synthetic_data rule could neither fill nor reuse
    (nothing is ever deleted: the fix is the user's)."""
    marker = synthetic_marker(root)
    if os.path.exists(root) and not os.path.isdir(root):
        raise pipeline_error(f"dataset.root {root!r} is a file, not a folder; set dataset.root to a folder for the "
                             "synthetic dataset (missing, empty, or holding a synthetic dataset generated with "
                             "the dataset.synthetic parameters)")
    if not (os.path.isdir(root) and os.listdir(root)):
        if os.path.exists(marker):
            raise pipeline_error(f"dataset.root {root!r} holds no synthetic dataset, but its marker {marker!r} says "
                                 f"it was generated (was the folder deleted?); delete {marker!r} to regenerate it")
        return root
    synthetic = project_module("dynrcnn.data.synthetic")
    recorded = synthetic.read_marker(root)
    if recorded is None:
        raise pipeline_error(f"dataset.root {root!r} is a non-empty folder that is not a complete synthetic dataset "
                             f"(no {synthetic.COMPLETE_MARKER} file); nothing was deleted. Set dataset.root to a missing or "
                             "empty folder (or to a synthetic dataset generated by this pipeline)")
    settings = config["dataset"]["synthetic"]
    wanted = synthetic.SyntheticConfig(**settings).to_dict()
    differing = [key for key in wanted if recorded.get(key) != wanted[key]]
    differing += [key for key in recorded if key not in wanted]
    if differing:
        described = "; ".join(
            f"{'dataset.synthetic.' if key in settings else 'generator setting '}{key}: {recorded.get(key)!r} in "
            f"the dataset, {wanted.get(key)!r} wanted" for key in differing)
        raise pipeline_error(f"dataset.root {root!r} holds a synthetic dataset generated with other parameters "
                             f"({described}); nothing was deleted. Choose another dataset.root for these parameters, "
                             f"or delete the folder {root!r} and its marker {marker!r} to regenerate it")
    return root


def _data_root():
    root = config["dataset"]["root"]
    if DATASET == "synthetic":
        return _check_synthetic_root((root or "results/data/synthetic").rstrip("/"))
    return _coco_root(root)


DATA_ROOT = _data_root().rstrip("/")


def family_config(arm):
    """The MMDetection config of an arm of the configured family (checked to exist)."""
    path = REPO / "configs" / FAMILY / f"{arm}.py"
    if not path.is_file():
        raise pipeline_error(f"no MMDetection config for family {FAMILY!r} and arm {arm!r}: {path} is missing")
    return str(path)


@functools.lru_cache(maxsize=None)
def family_defaults(arm):
    """The hyper-parameters of an arm's config (model.train_cfg.rcnn.dynamic_rcnn), as ints."""
    from mmengine.config import Config

    cfg = Config.fromfile(family_config(arm), import_custom_modules=False)
    block = cfg.model.get("train_cfg", {}).get("rcnn", {}).get("dynamic_rcnn")
    if not block or any(block.get(k) is None for k in HYPERPARAMETERS):
        raise pipeline_error(f"{family_config(arm)} has no {DYNAMIC_RCNN_KEY} with {', '.join(HYPERPARAMETERS)}: "
                             "cannot name the sweep variants")
    return {k: int(block[k]) for k in HYPERPARAMETERS}


def variant_name(hparams, defaults):
    """'default' for the family's own hyper-parameters, else ki{iou_topk}-kb{beta_topk}-c{interval}."""
    if hparams == defaults:
        return "default"
    return "ki{iou_topk}-kb{beta_topk}-c{update_iter_interval}".format(**hparams)


def sweep_points(defaults):
    """The hyper-parameter combinations of config['sweeps'] (see the schema for the two modes)."""
    sweeps = config["sweeps"]
    if sweeps["mode"] == "grid":
        lists = [sweeps[k] or [defaults[k]] for k in HYPERPARAMETERS]
        return [dict(zip(HYPERPARAMETERS, combo)) for combo in itertools.product(*lists)]
    return [{**defaults, key: value} for key in HYPERPARAMETERS for value in sweeps[key]]


#: The hyper-parameter an arm's training ignores, and why (baseline, with both off, is refused in sweeps.arms).
IGNORED_HYPERPARAMETER = {"dla": ("beta_topk", "DSL off"), "dsl": ("iou_topk", "DLA off")}


def arm_sweep_points(arm, defaults):
    """The sweep points of an arm, less those that differ from the defaults in the hyper-parameter the arm ignores
    (they would retrain a model already trained under another name); one notice per arm that loses some."""
    points = sweep_points(defaults)
    if arm not in IGNORED_HYPERPARAMETER:
        return points
    key, why = IGNORED_HYPERPARAMETER[arm]
    kept = [p for p in points if p[key] == defaults[key]]
    dropped = {variant_name(p, defaults) for p in points if p not in kept}
    if dropped:
        print(f"sweeps: arm {arm} ignores {key} ({why}): {len(dropped)} variant{'s' * (len(dropped) != 1)} "
              "not trained", file=sys.stderr)
    if dropped and all(p == defaults for p in kept):  # nothing left to sweep beyond the arm's default run
        raise pipeline_error(f"sweeps.arms contains {arm!r}, which ignores {key} ({why}), and the sweeps vary "
                             f"nothing else for it, so none of its sweep variants would be trained; drop {arm!r} "
                             f"from sweeps.arms or sweep a key it uses "
                             f"({' or '.join(f'sweeps.{k}' for k in HYPERPARAMETERS if k != key)})")
    return kept


def _runs():
    runs = [(arm, "default", seed) for arm in config["arms"] for seed in config["seeds"]]
    for arm in config["arms"]:
        family_config(arm)
    if any(config["sweeps"][k] for k in HYPERPARAMETERS):
        for arm in config["sweeps"]["arms"]:
            defaults = family_defaults(arm)
            for hparams in arm_sweep_points(arm, defaults):
                for seed in config["seeds"]:
                    run = (arm, variant_name(hparams, defaults), seed)
                    if run not in runs:
                        runs.append(run)
    return runs


#: (arm, variant, seed) of every run of the pipeline.
RUNS = _runs()


def run_dirs():
    return [f"results/runs/{FAMILY}/{arm}/{variant}/seed{seed}" for arm, variant, seed in RUNS]


def all_metrics():
    return [f"{d}/metrics.json" for d in run_dirs()]


def all_scalars():
    return [f"{d}/scalars.json" for d in run_dirs()]


def data_input(wildcards=None):
    """What a training needs of the dataset: the synthetic dataset's marker (next to it) or the COCO annotation
    files."""
    if DATASET == "synthetic":
        return synthetic_marker(DATA_ROOT)
    return [f"{DATA_ROOT}/{COCO_FILES[0]}", f"{DATA_ROOT}/{COCO_FILES[1]}"]


def val_annotations():
    if DATASET == "synthetic":
        return f"{DATA_ROOT}/{SYNTHETIC_VAL[0]}"
    return f"{DATA_ROOT}/{COCO_FILES[1]}"


def val_images():
    return f"{DATA_ROOT}/{SYNTHETIC_VAL[1] if DATASET == 'synthetic' else COCO_FILES[3]}"


def train_config(wildcards):
    return family_config(wildcards.arm)


def config_bases(path):
    """The local files a config inherits through `_base_`, recursively (`mmdet::...` bases live in the package)."""
    import ast

    found, todo = [], [path]
    while todo:
        current = todo.pop()
        try:
            tree = ast.parse(Path(current).read_text(), filename=current)
        except (OSError, SyntaxError) as e:
            raise pipeline_error(f"cannot read the MMDetection config {current}: {e}") from None
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_base_" for t in node.targets):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    raise pipeline_error(f"{current}: _base_ must be a string or a list of strings") from None
                for base in [value] if isinstance(value, str) else value:
                    if "::" in base:
                        continue
                    base = os.path.normpath(os.path.join(os.path.dirname(current), base))
                    if not os.path.isfile(base):
                        raise pipeline_error(f"{current} inherits {base}, which is missing")
                    if base not in found:
                        found.append(base)
                        todo.append(base)
    return found


def train_config_bases(wildcards):
    """What the arm's config inherits from its folder (configs/{family}/_base_.py): a change retrains the run."""
    return config_bases(family_config(wildcards.arm))


def work_dir(wildcards):
    """Checkpoints and attempt logs: deliberately not a declared output (Snakemake deletes those before a rerun)."""
    return f"results/work/{wildcards.family}/{wildcards.arm}/{wildcards.variant}/seed{wildcards.seed}"


def cfg_options(wildcards):
    """The run's mmengine --cfg-options as one shell-quoted string."""
    options = []
    match = VARIANT_RE.fullmatch(wildcards.variant)
    if match:
        options += [f"{DYNAMIC_RCNN_KEY}.{k}={int(v)}" for k, v in match.groupdict().items()]
    if config["train"]["max_epochs"]:
        options.append(f"train_cfg.max_epochs={config['train']['max_epochs']}")
    if config["images_per_gpu"]:
        options.append(f"train_dataloader.batch_size={config['images_per_gpu']}")
    options += config["train"]["cfg_options"]
    return " ".join(["--cfg-options"] + [shlex.quote(o) for o in options]) if options else ""


def epoch_detection_flags(wildcards):
    settings = config["evaluate"]
    if not settings["epoch_detections"]:
        return ""
    limit = settings["epoch_max_images"]
    return "--epoch-detections" + (f" --epoch-max-images {limit}" if limit else "")


def deterministic_flag(wildcards):
    return "--deterministic" if config["train"]["deterministic"] else ""


def train_resources():
    resources = dict(gpu=config["gpus_per_job"], mem_mb=config["resources"]["train_mem_mb"],
                     runtime=config["resources"]["train_runtime"])
    if config["gpus_per_job"] and config["resources"]["gpu_model"]:
        resources["gpu_model"] = config["resources"]["gpu_model"]
    return resources


def eval_resources():
    resources = dict(gpu=min(1, config["gpus_per_job"]), mem_mb=config["resources"]["eval_mem_mb"],
                     runtime=config["resources"]["eval_runtime"])
    if config["gpus_per_job"] and config["resources"]["gpu_model"]:
        resources["gpu_model"] = config["resources"]["gpu_model"]
    return resources


# analysis.outputs names the report's files; it needs only the standard library, so building the DAG does not.
REPORT_MODULE = project_module("analysis.outputs")
REPORT_OUTPUTS = dict(REPORT_MODULE.OUTPUTS)
# Captions of the report's outputs ({stem}.rst, written by the report rule), read by `snakemake --report`.
CAPTIONS_DIR = f"results/report_captions/{FAMILY}"


def report_files():
    """The report's outputs, each wrapped with its caption and category for `snakemake --report`."""
    categories = getattr(REPORT_MODULE, "CATEGORIES", {})
    files = {}
    for rel in REPORT_OUTPUTS:
        stem = Path(rel).stem
        files[re.sub(r"[^A-Za-z0-9_]", "_", rel)] = report(
            f"reports/{FAMILY}/{rel}",
            caption=os.path.abspath(f"{CAPTIONS_DIR}/{stem}.rst"),
            category=categories.get(rel, "Report"),
            labels={"file": rel},
        )
    return files


def final_targets():
    targets = all_metrics() + [f"results/collected/{FAMILY}/metrics.csv", f"results/collected/{FAMILY}/metrics.md"]
    if config["report"]["enabled"]:
        targets += [f"reports/{FAMILY}/{rel}" for rel in REPORT_OUTPUTS]
    return targets
