"""The plan of a pipeline config: its runs (arm, variant, seed) and everything the Snakemake rules need of them.

:func:`build` validates the config and computes the whole plan at once (the runs, their folders, each arm's MMDetection
config and the files it inherits, the dataset's files, the report's inputs and outputs, the final targets), so that
the workflow's input functions only look things up. Imports neither torch nor mmdet; reading an arm config's
hyper-parameters (only when sweeping) uses mmengine's ``Config``, which imports neither.
"""

import ast
import functools
import itertools
import math
import os
import shlex
import warnings
from collections import namedtuple
from pathlib import Path

from analysis.outputs import CATEGORIES, OUTPUTS
from dynrcnn import families, run_record
from dynrcnn.dynamic_settings import settings_of
from dynrcnn.run_record import CHECK_VARIANT, DEFAULT_VARIANT, DYNAMIC_RCNN_KEY, HYPERPARAMETERS
from dynrcnn.tools import commands

from . import data
from .config import REPO, PipelineConfigError, controls_requested, validate

#: One training of the pipeline.
Run = namedtuple("Run", "arm variant seed")

#: The hyper-parameter an arm's training ignores, and why (baseline, with both off, is refused in sweeps.arms).
IGNORED_HYPERPARAMETER = {"dla": ("beta_topk", "DSL off"), "dsl": ("iou_topk", "DLA off")}

#: Where the report rule builds the report (its declared outputs: a failed report deletes only these) and where
#: the publish_report rule copies it once complete (the folder the user reads).
REPORT_BUILD_ROOT = "results/report"
REPORT_ROOT = "reports"
#: An acceptance check's validation never starts (its epoch or iteration is never reached).
CHECK_NO_VALIDATION = 10**9


def build(config, repo=REPO, check_data=True):
    """Validate a pipeline config (its defaults filled in place) and expand it into its plan.

    Args:
        config (dict): the pipeline config (Snakemake's ``config``).
        repo (str | Path): the repository holding ``configs/`` (the Snakefile's folder).
        check_data (bool): check the dataset root (off for a plan that only counts runs, e.g. the forecast of a
            COCO config before COCO is there).

    Returns:
        Plan

    Raises:
        PipelineConfigError: anything wrong in the config, its dataset root or the arm configs.
    """
    return Plan(validate(config), repo, check_data=check_data)


class Plan:
    """The runs of a validated pipeline config and their files (paths relative to the working directory, except
    the MMDetection configs, which live in ``repo``).

    Attributes:
        config (dict): the validated config.
        family (str), dataset (str), data_root (str): from the config; the root checked.
        runs (list[Run]): every run, the arms' default variants first, in config order.
        notices (list[str]): lines for the user (sweep variants an arm skips).
        arm_configs (dict), arm_config_bases (dict): each arm's MMDetection config and the local files it inherits.
        report_outputs (list[str]), report_categories (dict): the report's files, relative to its folder.
    """

    def __init__(self, config, repo=REPO, check_data=True):
        self.config = config
        self.repo = Path(repo)
        self.family = config["family"]
        self.dataset = config["dataset"]["name"]
        # a report from the run folders alone needs no dataset: its root is not checked
        self.from_runs = config["report"]["from_runs"]
        self.data_root = data.data_root(config, check=check_data and not self.from_runs)
        self.notices = []
        self.checking = config["check"]["enabled"]
        arms = list(dict.fromkeys(config["arms"] + (config["sweeps"]["arms"] if self.sweeping else [])))
        self.arm_configs = {arm: self._family_config(arm) for arm in arms}
        self.arm_config_bases = {arm: config_bases(path) for arm, path in self.arm_configs.items()}
        self.runs = self._runs()
        self.runs += self.control_runs()
        # the report's files relative to its folder, and their categories for `snakemake --report`
        # (analysis.outputs names them; standard library only)
        self.report_outputs = list(OUTPUTS)
        self.report_categories = {rel: CATEGORIES.get(rel, "Report") for rel in OUTPUTS}
        if self.from_runs:
            self.notices += self._check_report_runs()

    # ------------------------------------------------------------------------------------------------ the runs
    @property
    def sweeping(self):
        return any(self.config["sweeps"][k] for k in HYPERPARAMETERS)

    def _family_config(self, arm):
        path = self.repo / "configs" / self.family / f"{arm}.py"
        if not path.is_file():
            raise PipelineConfigError(
                f"no MMDetection config for family {self.family!r} and arm {arm!r}: {path} is missing"
            )
        return str(path)

    def family_defaults(self, arm):
        """The hyper-parameters of an arm's config (model.train_cfg.rcnn.dynamic_rcnn), as ints."""
        from mmengine.config import Config  # imports neither torch nor mmdet (mmdet:: bases are read as files)

        path = self.arm_configs[arm]
        with warnings.catch_warnings():  # mmengine looks mmdet:: bases up through the deprecated pkg_resources
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            cfg = Config.fromfile(path, import_custom_modules=False)
        block = settings_of(cfg)  # defaults filled: a config spells only what it changes
        if not block or any(block.get(k) is None for k in HYPERPARAMETERS):
            raise PipelineConfigError(
                f"{path} has no {DYNAMIC_RCNN_KEY} with {', '.join(HYPERPARAMETERS)}: cannot name the sweep variants"
            )
        return {k: int(block[k]) for k in HYPERPARAMETERS}

    def sweep_points(self, defaults):
        """The hyper-parameter combinations of config['sweeps'] (see the schema for the two modes)."""
        sweeps = self.config["sweeps"]
        if sweeps["mode"] == "grid":
            lists = [sweeps[k] or [defaults[k]] for k in HYPERPARAMETERS]
            return [dict(zip(HYPERPARAMETERS, combo)) for combo in itertools.product(*lists)]
        return [{**defaults, key: value} for key in HYPERPARAMETERS for value in sweeps[key]]

    def arm_sweep_points(self, arm, defaults):
        """The sweep points of an arm, less those that differ from the defaults in the hyper-parameter the arm
        ignores (they would retrain a model already trained under another name); one notice per arm that loses
        some."""
        points = self.sweep_points(defaults)
        if arm not in IGNORED_HYPERPARAMETER:
            return points
        key, why = IGNORED_HYPERPARAMETER[arm]
        kept = [p for p in points if p[key] == defaults[key]]
        dropped = {run_record.variant_name(p, defaults) for p in points if p not in kept}
        if dropped:
            self.notices.append(
                f"sweeps: arm {arm} ignores {key} ({why}): {len(dropped)} variant{'s' * (len(dropped) != 1)} "
                "not trained"
            )
        if dropped and all(p == defaults for p in kept):  # nothing left to sweep beyond the arm's default run
            others = " or ".join(f"sweeps.{k}" for k in HYPERPARAMETERS if k != key)
            raise PipelineConfigError(
                f"sweeps.arms contains {arm!r}, which ignores {key} ({why}), and the sweeps vary nothing else for "
                f"it, so none of its sweep variants would be trained; drop {arm!r} from sweeps.arms or sweep a key "
                f"it uses ({others})"
            )
        return kept

    def _runs(self):
        seeds = self.config["seeds"]
        if self.checking:  # the acceptance check: every arm once, the first seed, a short schedule
            return [Run(arm, CHECK_VARIANT, seeds[0]) for arm in self.config["arms"]]
        runs = [Run(arm, DEFAULT_VARIANT, seed) for arm in self.config["arms"] for seed in seeds]
        for arm, extra in self.config["extra_seeds"].items():
            runs += [Run(arm, DEFAULT_VARIANT, seed) for seed in extra if seed not in seeds]
        if self.sweeping:
            for arm in self.config["sweeps"]["arms"]:
                defaults = self.family_defaults(arm)
                for hparams in self.arm_sweep_points(arm, defaults):
                    for seed in seeds:
                        run = Run(arm, run_record.variant_name(hparams, defaults), seed)
                        if run not in runs:
                            runs.append(run)
        return runs

    def run_dir(self, run):
        return run_record.run_dir(self.family, *run)

    def run_files(self, name, runs=None):
        """A file (or folder) of every run's results folder (or of ``runs``'), e.g.
        ``run_files(run_record.METRICS_FILE)``."""
        return [f"{self.run_dir(run)}/{name}" for run in (self.runs if runs is None else runs)]

    # ------------------------------------------------------------------------------------------ per-run settings
    def cfg_options(self, variant):
        """The mmengine --cfg-options of a run of ``variant``: its hyper-parameters, then the config's settings."""
        options = []
        fixed = run_record.parse_variant(variant)
        if fixed:
            options += [f"{DYNAMIC_RCNN_KEY}.{k}={v}" for k, v in fixed.items()]
        options += self.control_options(variant)
        if variant == CHECK_VARIANT:
            options += self.check_options()
        if self.config["train"]["max_epochs"]:
            options.append(f"train_cfg.max_epochs={self.config['train']['max_epochs']}")
        if self.config["images_per_gpu"]:
            options.append(f"train_dataloader.batch_size={self.config['images_per_gpu']}")
        return options + list(self.config["train"]["cfg_options"])

    # -------------------------------------------------------------------------------------- the acceptance check
    def check_options(self):
        """The cfg options of a check training: the first ``check.iterations`` iterations of the schedule, no
        validation (an epoch-based family through ``ShortEpochTrainLoop``, which stops mid-epoch)."""
        iterations = self.config["check"]["iterations"]
        options = [f"train_cfg.max_iters={iterations}", f"train_cfg.val_begin={CHECK_NO_VALIDATION}"]
        if families.family(self.family).schedule == "epoch":
            options.insert(0, "train_cfg.type=ShortEpochTrainLoop")
        return options

    @property
    def check_dir(self):
        """Where the check writes its verdicts (kept when it fails)."""
        return f"{REPORT_ROOT}/{self.family}_check"

    @property
    def check_marker(self):
        """The check rule's output: written only when every gate passes."""
        return f"results/check/{self.family}.passed"

    def check_settings(self):
        """What the gates need of the full arm's config: the update interval C and the initial beta."""
        from mmengine.config import Config  # imports neither torch nor mmdet (mmdet:: bases are read as files)

        arm = "dynamic_rcnn" if "dynamic_rcnn" in self.arm_configs else next(iter(self.arm_configs))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            cfg = Config.fromfile(self.arm_configs[arm], import_custom_modules=False)
        block = cfg.model.get("train_cfg", {}).get("rcnn", {}).get("dynamic_rcnn") or {}
        if block.get("update_iter_interval") is None:
            raise PipelineConfigError(f"{self.arm_configs[arm]} has no {DYNAMIC_RCNN_KEY}.update_iter_interval")
        initial_beta = float(block.get("initial_beta", 1.0))
        return dict(update_interval=int(block["update_iter_interval"]), initial_beta=initial_beta)

    def check_runs_args(self):
        """The check tool's ``--runs ARM=RUN_DIR:WORK_DIR ...`` (the work dir holds the per-rank logs)."""
        return " ".join(f"{run.arm}={self.run_dir(run)}:{run_record.work_dir(self.family, *run)}" for run in self.runs)

    # ------------------------------------------------------------------------------------------------ controls
    @functools.cached_property
    def baseline_head(self):
        """The baseline config's R-CNN assigner and box loss (what a control changes), as plain dicts."""
        from mmengine.config import Config  # imports neither torch nor mmdet (mmdet:: bases are read as files)

        path = self.arm_configs[run_record.CONTROL_ARM]
        with warnings.catch_warnings():  # mmengine looks mmdet:: bases up through the deprecated pkg_resources
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            cfg = Config.fromfile(path, import_custom_modules=False)
        try:
            assigner = cfg.model.train_cfg.rcnn.assigner.to_dict()
            loss = cfg.model.roi_head.bbox_head.loss_bbox.to_dict()
        except AttributeError:
            raise PipelineConfigError(
                f"{path} has no {run_record.ASSIGNER_KEY} or {run_record.LOSS_BBOX_KEY}: cannot set up the controls"
            ) from None
        return assigner, loss

    def control_runs(self):
        """The control runs of config['controls']: the baseline arm's control variants, each once per seed.

        A control equal to the baseline itself (its config's beta, loss or threshold) is not trained twice: the
        baseline run stands for it (one notice each).

        Returns:
            list[Run]
        """
        if not controls_requested(self.config) or self.checking:
            return []
        controls = self.config["controls"]
        assigner, loss = self.baseline_head
        baseline = f"configs/{self.family}/{run_record.CONTROL_ARM}.py"
        smooth_l1 = loss.get("type") == run_record.SMOOTH_L1
        variants = []
        for beta in controls["betas"]:
            if smooth_l1 and float(beta) == float(loss.get("beta", math.nan)):
                self.notices.append(
                    f"controls.betas: {run_record.format_value(beta)} is the baseline's own SmoothL1 beta "
                    f"({baseline}): not trained twice, the baseline run stands for it"
                )
            else:
                variants.append(run_record.control_variant("beta", beta))
        if controls["l1"]:
            if loss.get("type") == run_record.L1:
                self.notices.append(f"controls.l1: the baseline ({baseline}) already uses L1 loss: not trained twice")
            else:
                variants.append(run_record.L1_VARIANT)
        for thr in controls["iou_thresholds"]:
            if all(float(assigner.get(k, math.nan)) == float(thr) for k in run_record.ASSIGNER_THRESHOLDS):
                self.notices.append(
                    f"controls.iou_thresholds: {run_record.format_value(thr)} is the baseline's own IoU threshold "
                    f"({baseline}): not trained twice, the baseline run stands for it"
                )
            else:
                variants.append(run_record.control_variant("iou", thr))
        if controls["static_endpoint"]:
            variants.append(run_record.STATIC_VARIANT)
        return [Run(run_record.CONTROL_ARM, variant, seed) for variant in variants for seed in self.config["seeds"]]

    def control_options(self, variant):
        """The cfg options (``key=value``) that fix a control variant's values; none for another variant, and none
        for the static endpoint, whose values come from its endpoint file (:meth:`control_args`)."""
        control = run_record.parse_control(variant)
        if control is None or control["kind"] == "static":
            return []
        if control["kind"] == "l1":
            weight = float(self.baseline_head[1].get("loss_weight", 1.0))
            options = run_record.control_cfg_options(l1_loss_weight=weight)
        else:
            options = run_record.control_cfg_options(iou_thr=control.get("iou_thr"), beta=control.get("beta"))
        return [f"{key}={value!r}" if isinstance(value, float) else f"{key}={value}" for key, value in options.items()]

    def endpoint_file(self, seed):
        """A static control's endpoint file (the full run's final values), in its run folder."""
        run = Run(run_record.CONTROL_ARM, run_record.STATIC_VARIANT, int(seed))
        return f"{self.run_dir(run)}/{run_record.ENDPOINT_FILE}"

    def endpoint_source(self, seed):
        """The scalars.json of the full run whose final values the static control of ``seed`` takes."""
        run = Run(run_record.STATIC_SOURCE_ARM, DEFAULT_VARIANT, int(seed))
        return f"{self.run_dir(run)}/{run_record.SCALARS_FILE}"

    def control_inputs(self, variant, seed):
        """What a run's training needs besides its config and data: the static control its endpoint file."""
        return [self.endpoint_file(seed)] if variant == run_record.STATIC_VARIANT else []

    def control_args(self, variant, seed):
        """The training's ``--cfg-options-file`` of a static control (its endpoint file), else nothing."""
        return " ".join(f"--cfg-options-file {shlex.quote(p)}" for p in self.control_inputs(variant, seed))

    def cfg_options_args(self, variant):
        """:meth:`cfg_options` as the training's shell arguments (``--cfg-options 'k=v' ...``, or nothing)."""
        options = self.cfg_options(variant)
        return " ".join(["--cfg-options"] + [shlex.quote(o) for o in options]) if options else ""

    # -------------------------------------------------------------------------------------------- the commands
    def train_command(self, run, threads=1, python="python"):
        """The training of ``run`` (:func:`dynrcnn.tools.commands.train_command`): the arm's config, the run's
        folders, seed, dataset, cfg options and control files, torchrun for :attr:`train_processes` > 1, and the
        tracking arguments; ``threads`` are shared out among the processes."""
        return commands.train_command(
            self.arm_configs[run.arm],
            work_dir=run_record.work_dir(self.family, *run),
            run_dir=self.run_dir(run),
            seed=run.seed,
            data_root=self.data_root,
            dataset=self.dataset,
            threads=self.threads_per_process(threads),
            processes=self.train_processes,
            deterministic=self.config["train"]["deterministic"],
            cfg_options=self.cfg_options(run.variant),
            cfg_options_files=self.control_inputs(run.variant, run.seed),
            extra=shlex.split(self.tracking_args),
            python=python,
        )

    def threads_per_process(self, threads):
        """Torch threads of each process of a training job of ``threads`` threads."""
        return max(1, threads // self.train_processes)

    def evaluate_command(self, run, out=None, threads=1, python="python"):
        """The evaluation of ``run`` (:func:`dynrcnn.tools.commands.evaluate_command`)."""
        return commands.evaluate_command(
            self.run_dir(run),
            family=self.family,
            **run._asdict(),
            dataset=self.dataset,
            threads=threads,
            out=out,
            python=python,
        )

    def detect_epochs_command(self, run, out, threads=1, python="python"):
        """The per-epoch detections of ``run`` (:func:`dynrcnn.tools.commands.detect_epochs_command`)."""
        return commands.detect_epochs_command(
            self.run_dir(run), out=out, threads=threads, max_images=self.epoch_max_images, python=python
        )

    @property
    def tracking_args(self):
        """The train tool's tracking arguments (:func:`dynrcnn.tracking.train_args`; empty without tracking), the
        same for every run. The train rule passes them outside its params: tracking is not part of the experiment,
        and a changed param would retrain every run."""
        from dynrcnn.tracking import train_args

        return train_args(self.config["tracking"])

    def train_resources(self):
        return self._resources("train", self.config["gpus_per_job"])

    @property
    def train_processes(self):
        """Processes of one training: one per GPU, or ``processes_per_job`` on CPU (``torchrun`` when > 1)."""
        return self.config["gpus_per_job"] or self.config["processes_per_job"]

    def eval_resources(self):
        return self._resources("eval", min(1, self.config["gpus_per_job"]))

    def _resources(self, kind, gpus):
        settings = self.config["resources"]
        resources = dict(gpu=gpus, mem_mb=settings[f"{kind}_mem_mb"], runtime=settings[f"{kind}_runtime"])
        if self.config["gpus_per_job"] and settings["gpu_model"]:
            resources["gpu_model"] = settings["gpu_model"]
        return resources

    @property
    def epoch_detections(self):
        """Whether the report's sample figures get per-epoch detections; an iteration-based family keeps no epoch
        checkpoints, so it gets none."""
        if self.checking:
            return False
        return self.config["evaluate"]["epoch_detections"] and families.family(self.family).schedule == "epoch"

    @functools.cached_property
    def epoch_detection_runs(self):
        """The runs whose per-epoch detections are made: the lowest seed of each arm and variant, the one seed the
        sample figures draw (the other seeds' six extra inferences each would be drawn by nobody)."""
        return run_record.lowest_seed_runs(self.runs) if self.epoch_detections else []

    def epoch_detection_dirs(self):
        """The ``epoch_detections`` folders of :attr:`epoch_detection_runs`."""
        return self.run_files(run_record.EPOCH_DETECTIONS_DIR, self.epoch_detection_runs)

    @property
    def epoch_max_images(self):
        """Per-epoch detections on the first N val images (0: the whole val split)."""
        return self.config["evaluate"]["epoch_max_images"] or 0

    # ------------------------------------------------------------------------------------------------ the data
    @property
    def data_inputs(self):
        """What a training (and an evaluation) needs of the dataset: the synthetic dataset's marker (next to it),
        or the check_dataset rule's output for COCO."""
        if self.dataset == "synthetic":
            return [data.synthetic_marker(self.data_root)]
        return [data.COCO_CHECKED]

    @property
    def annotation_files(self):
        """The train and val annotation files."""
        return [f"{self.data_root}/{name}" for name in data.layout_files(self.dataset)[:2]]

    @property
    def val_annotations(self):
        return self.annotation_files[1]

    @property
    def val_images(self):
        return f"{self.data_root}/{data.layout_files(self.dataset)[3]}"

    # ---------------------------------------------------------------------------------------------- the report
    @property
    def report_enabled(self):
        return (self.config["report"]["enabled"] or self.from_runs) and not self.checking

    @functools.cached_property
    def report_runs(self):
        """The runs the report reads: every run of the plan, or with ``report.from_runs`` those whose metrics.json
        and scalars.json exist (the run folders alone)."""
        if not self.from_runs:
            return self.runs
        files = (run_record.METRICS_FILE, run_record.SCALARS_FILE)
        return [r for r in self.runs if all(os.path.isfile(f"{self.run_dir(r)}/{name}") for name in files)]

    @functools.cached_property
    def report_epoch_detection_dirs(self):
        """The report's ``epoch_detections`` folders: those of :meth:`epoch_detection_dirs`, or with
        ``report.from_runs`` those of the lowest seed of each arm and variant among :attr:`report_runs` when every
        one of them exists (else none: the sample figures then say so)."""
        if not self.from_runs:
            return self.epoch_detection_dirs()
        if not self.epoch_detections:
            return []
        dirs = self.run_files(run_record.EPOCH_DETECTIONS_DIR, run_record.lowest_seed_runs(self.report_runs))
        return dirs if all(os.path.isdir(d) for d in dirs) else []

    def _check_report_runs(self):
        """``report.from_runs``: refuse a tree without any run of the plan; the notices naming the runs left out."""
        found, root = self.report_runs, f"{run_record.RUNS_ROOT}/{self.family}"
        if not found:
            raise PipelineConfigError(
                f"report.from_runs: none of the {len(self.runs)} runs of this config has its "
                f"{run_record.METRICS_FILE} and {run_record.SCALARS_FILE} under {root}/ (e.g. "
                f"{self.run_dir(self.runs[0])}); copy the results/runs/ folder of the finished pipeline here, or "
                "give the config those runs were made with"
            )
        notices = []
        missing = [run_record.run_name(*r) for r in self.runs if r not in found]
        if missing:
            notices.append(
                f"report.from_runs: {len(missing)} of the {len(self.runs)} runs of this config have no "
                f"{run_record.METRICS_FILE} or {run_record.SCALARS_FILE} under {root}/ and are left out of the "
                f"report (it shows the n it has per arm): {', '.join(missing)}"
            )
        lowest = run_record.lowest_seed_runs(found) if self.epoch_detections else []
        if lowest and not self.report_epoch_detection_dirs:
            notices.append(
                "report.from_runs: the epoch_detections folder of the lowest seed of some arm or variant is missing; "
                "the sample-detection figures are drawn without per-epoch detections"
            )
        return notices

    @property
    def report_val_args(self):
        """The report's ``--val-ann``/``--val-images`` (the sample figures' images); with ``report.from_runs``
        only when the val annotation file and image folder exist."""
        if self.data_root is None:
            return ""
        ann, images = self.val_annotations, self.val_images
        if self.from_runs and not (os.path.isfile(ann) and os.path.isdir(images)):
            return ""
        return f"--val-ann {shlex.quote(ann)} --val-images {shlex.quote(images)}"

    @property
    def report_dir(self):
        """Where the report rule builds the report."""
        return f"{REPORT_BUILD_ROOT}/{self.family}"

    @property
    def published_report_dir(self):
        """Where the publish_report rule puts a complete report (the folder the user reads)."""
        return f"{REPORT_ROOT}/{self.family}"

    @property
    def report_inputs(self):
        """The run files the report reads: exactly the runs of this config (never a folder scan)."""
        inputs = dict(
            metrics=self.run_files(run_record.METRICS_FILE, self.report_runs),
            scalars=self.run_files(run_record.SCALARS_FILE, self.report_runs),
            epoch_detections=self.report_epoch_detection_dirs,
            benchmarks=self.report_benchmark_files,
        )
        return inputs

    @property
    def benchmark_jobs(self):
        """``(rule, run)`` of every train, evaluate and epoch_detections job of the plan."""
        jobs = [("train", run) for run in self.runs]
        jobs += [] if self.checking else [("evaluate", run) for run in self.runs]
        return jobs + [("epoch_detections", run) for run in self.epoch_detection_runs]

    @property
    def benchmark_files(self):
        """Snakemake's benchmark file of every train, evaluate and epoch_detections job of the plan (the rules'
        ``benchmark:``; :mod:`analysis.compute` reads them)."""
        from analysis.compute import benchmark_path

        return [benchmark_path(rule, self.family, *run) for rule, run in self.benchmark_jobs]

    @property
    def report_benchmark_files(self):
        """The benchmark files the report's compute table reads (inputs of the report job): those that exist, and
        those of the jobs that will run because their output is missing (they write them). A finished job whose
        benchmark file is missing (a tree from before the ``benchmark:`` directive, or copied without
        ``results/benchmarks/``) is left out rather than redone: a missing input would schedule that training.
        With ``report.from_runs``: those that exist."""
        from analysis.compute import benchmark_path

        products = {"train": run_record.MANIFEST_FILE, "evaluate": run_record.METRICS_FILE}
        products["epoch_detections"] = run_record.EPOCH_DETECTIONS_DIR
        files = []
        for rule, run in self.benchmark_jobs:
            path = benchmark_path(rule, self.family, *run)
            will_run = not self.from_runs and not os.path.exists(f"{self.run_dir(run)}/{products[rule]}")
            if will_run or os.path.isfile(path):
                files.append(path)
        return files

    @property
    def report_data_inputs(self):
        """The dataset files the report job waits for (its sample figures draw val images): none with
        ``report.from_runs``."""
        return [] if self.from_runs else self.data_inputs

    @property
    def final_targets(self):
        """What ``snakemake`` alone makes: every run's metrics (and per-epoch detections), then the report; for an
        acceptance check, its gates' verdict; with ``report.from_runs`` the report only."""
        if self.checking:
            return [self.check_marker]
        if self.from_runs:
            return [f"{self.published_report_dir}/{rel}" for rel in self.report_outputs]
        targets = self.run_files(run_record.METRICS_FILE)
        targets += self.epoch_detection_dirs()
        if self.report_enabled:
            targets += [f"{self.published_report_dir}/{rel}" for rel in self.report_outputs]
        return targets


def config_bases(path):
    """The local files an MMDetection config inherits through ``_base_``, recursively (``mmdet::...`` bases live
    in the package)."""
    found, todo = [], [path]
    while todo:
        current = todo.pop()
        try:
            tree = ast.parse(Path(current).read_text(), filename=current)
        except (OSError, SyntaxError) as e:
            raise PipelineConfigError(f"cannot read the MMDetection config {current}: {e}") from None
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_base_" for t in node.targets):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    raise PipelineConfigError(f"{current}: _base_ must be a string or a list of strings") from None
                for base in [value] if isinstance(value, str) else value:
                    if "::" in base:
                        continue
                    base = os.path.normpath(os.path.join(os.path.dirname(current), base))
                    if not os.path.isfile(base):
                        raise PipelineConfigError(f"{current} inherits {base}, which is missing")
                    if base not in found:
                        found.append(base)
                        todo.append(base)
    return found
