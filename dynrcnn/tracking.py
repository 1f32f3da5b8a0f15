"""Experiment tracking as a switch: mmengine's TensorBoard and Weights & Biases backends on a training.

The pipeline config's ``tracking`` block chooses the backends (none by default); the plan turns it into the train
tool's ``--tracking``/``--wandb-*`` arguments (:func:`train_args`) and :func:`setup` adds the backends to the
training's config. Tracking is not part of the experiment:

* :func:`setup` runs *after* the resume decision (:func:`dynrcnn.run_folder.prepare_work_dir` compares the resolved
  config without the tracking), so switching tracking on or off neither supersedes a work dir nor changes the
  config hash recorded with the results; the train rule passes the arguments outside its ``params`` for the same
  reason (a changed param would retrain every run).
* Each backend is wrapped in :class:`dynrcnn.engine.vis_backends.FailSafeVisBackend`: one that fails to start (or
  later) is one warning naming it, and the training goes on with the project's own files (``scalars.json``, the
  source of the report), which mmengine's ``LocalVisBackend`` keeps writing.

Where the tracked files go, below the training's work dir (stable across the attempts of a training):

* ``tracking/tensorboard/``: TensorBoard event files (one per attempt; a resumed training continues the steps).
* ``tracking/wandb/``: W&B run folders (``offline-run-*`` or ``run-*``); ``tracking/wandb_run_id.txt`` holds the
  run id, so every attempt of a training logs to the same W&B run (``resume='allow'`` online).

W&B is online only when the config asks for it *and* credentials are there (``WANDB_API_KEY`` or a ``~/.netrc``
entry, as ``wandb login`` writes); otherwise offline, with a notice saying how to upload (``wandb sync``).

Standard library only at import (the pipeline's plan imports this module); :func:`setup` imports torch lazily.
"""

import netrc
import os
import os.path as osp
import re
import shlex
import uuid
from urllib.parse import urlparse

from dynrcnn import run_record
from dynrcnn.fileio import atomic_write_text

#: Backends the ``tracking.backends`` key (and ``--tracking``) accepts, and mmengine's backend class of each.
BACKENDS = {"tensorboard": "TensorboardVisBackend", "wandb": "NoCodeWandbVisBackend"}
WANDB_MODES = ("offline", "online")

#: Below the work dir.
TRACKING_DIR = "tracking"
TENSORBOARD_DIR = f"{TRACKING_DIR}/tensorboard"
WANDB_ROOT = TRACKING_DIR  # wandb.init(dir=...) puts its runs in {dir}/wandb/
WANDB_RUN_ID_FILE = f"{TRACKING_DIR}/wandb_run_id.txt"

#: Validation images drawn with the model's detections at the end of every epoch (fixed: the first N).
SAMPLE_IMAGES = 4
#: The host whose credentials ``wandb login`` stores in ``~/.netrc``.
WANDB_DEFAULT_HOST = "api.wandb.ai"


# --------------------------------------------------------------------------------------------- the pipeline side
def train_args(tracking):
    """The train tool's arguments for the pipeline config's ``tracking`` block (empty when no backend is on).

    Args:
        tracking (dict): the validated ``tracking`` block (``backends``, ``wandb``: ``project``, ``entity``,
            ``tags``, ``mode``).

    Returns:
        str: shell-quoted arguments, e.g. ``--tracking tensorboard,wandb --wandb-project P --wandb-mode offline``.
    """
    backends = tracking.get("backends") or []
    if not backends:
        return ""
    args = ["--tracking", ",".join(backends)]
    if "wandb" in backends:
        wandb = tracking.get("wandb") or {}
        for key in ("project", "entity"):
            if wandb.get(key):
                args += [f"--wandb-{key}", str(wandb[key])]
        for tag in wandb.get("tags") or []:
            args += ["--wandb-tag", str(tag)]
        args += ["--wandb-mode", wandb.get("mode") or "offline"]
    return " ".join(shlex.quote(a) for a in args)


# ------------------------------------------------------------------------------------------- the train tool side
def parse_backends(text):
    """``--tracking`` value: comma-separated backend names (``none`` or empty: no tracking).

    Raises:
        ValueError: an unknown backend (argparse reports it as one usage error naming the choices).
    """
    names = [n.strip() for n in text.split(",") if n.strip() and n.strip() != "none"]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise ValueError(f"unknown tracking backend {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    return list(dict.fromkeys(names))


def add_arguments(parser):
    """Add the tracking arguments to the train tool's parser (all optional; no tracking by default)."""
    import argparse

    def backends(text):
        try:
            return parse_backends(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    group = parser.add_argument_group("experiment tracking (not part of the experiment: no effect on resume)")
    group.add_argument(
        "--tracking", type=backends, default=[], metavar="B[,B]", help=f"backends: {', '.join(BACKENDS)}"
    )
    group.add_argument("--wandb-project", default="dynamic-rcnn-ablation", help="W&B project")
    group.add_argument("--wandb-entity", default=None, help="W&B entity (team or user); default: the login's")
    group.add_argument("--wandb-tag", action="append", default=[], help="extra W&B tag (repeatable)")
    group.add_argument(
        "--wandb-mode",
        choices=WANDB_MODES,
        default="offline",
        help="online only with credentials (WANDB_API_KEY or ~/.netrc); else offline",
    )


def wandb_credentials(environ=None, netrc_file=None):
    """Whether W&B credentials are available: ``WANDB_API_KEY``, or a netrc entry for the W&B host
    (``WANDB_BASE_URL``'s, default api.wandb.ai) in ``netrc_file`` (default ``$NETRC`` or ``~/.netrc``)."""
    environ = os.environ if environ is None else environ
    if environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(environ.get("WANDB_BASE_URL", "")).hostname or WANDB_DEFAULT_HOST
    path = netrc_file or environ.get("NETRC") or osp.expanduser("~/.netrc")
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(entry and entry[2])


def wandb_mode(requested, environ=None, netrc_file=None):
    """The W&B mode a training uses and the notice for the user.

    Args:
        requested (str): ``'offline'`` or ``'online'`` (``--wandb-mode``).

    Returns:
        tuple[str, str | None]: ``('online', None)`` when online was asked for and credentials are there, else
        ``('offline', notice)``.
    """
    if requested == "online" and wandb_credentials(environ, netrc_file):
        return "online", None
    if requested == "online":
        return "offline", (
            "W&B: online mode asked for but no credentials (WANDB_API_KEY or a ~/.netrc entry from `wandb login`): "
            "logging offline; upload afterwards with `wandb sync`"
        )
    return "offline", "W&B: offline mode; upload the run afterwards with `wandb sync`"


_RUN_DIR_RE = re.compile(
    rf"(?:.*/)?(?P<family>[^/]+)/(?P<arm>{'|'.join(run_record.ARMS)})/(?P<variant>{run_record.VARIANT_PATTERN})"
    r"/seed(?P<seed>[0-9]+)/?"
)


def run_identity(run_dir, config, seed):
    """Family, arm, variant and seed of a training, from its run folder ``.../{family}/{arm}/{variant}/seed{seed}``
    (a run folder of another shape: the config's folder and file name, variant ``default``).

    Returns:
        dict: ``family``, ``arm``, ``variant``, ``seed``.
    """
    match = _RUN_DIR_RE.fullmatch(run_dir or "")
    if match and int(match["seed"]) == int(seed):
        return dict(family=match["family"], arm=match["arm"], variant=match["variant"], seed=int(seed))
    stem = osp.splitext(osp.basename(config))[0]
    return dict(
        family=osp.basename(osp.dirname(osp.abspath(config))),
        arm=stem,
        variant=run_record.DEFAULT_VARIANT,
        seed=int(seed),
    )


def wandb_run_id(work_dir, resuming, write=True):
    """The W&B run id of the training in ``work_dir``: the stored one when the training resumes, else a new one
    (stored when ``write``: rank 0).

    Returns:
        str
    """
    path = osp.join(work_dir, WANDB_RUN_ID_FILE)
    if resuming and osp.exists(path):
        with open(path) as f:
            stored = f.read().strip()
        if stored:
            return stored
    run_id = uuid.uuid4().hex[:12]
    if write:
        os.makedirs(osp.dirname(path), exist_ok=True)
        atomic_write_text(path, run_id + "\n")
    return run_id


def vis_backends(backends, *, work_dir, identity, provenance, run_id=None, wandb_options=None, mode="offline"):
    """The visualizer's backend configs for ``backends``, each in a :class:`FailSafeVisBackend`.

    Args:
        backends (list[str]): names of :data:`BACKENDS`.
        work_dir (str): the training's work dir (the tracked files go below it).
        identity (dict): :func:`run_identity`.
        provenance (dict): what the W&B run config records besides the identity.
        run_id (str): the W&B run id.
        wandb_options (dict): ``project``, ``entity``, ``tags``.
        mode (str): the W&B mode (:func:`wandb_mode`).

    Returns:
        list[dict]: configs of ``FailSafeVisBackend``.
    """
    configs = []
    for name in backends:
        inner = dict(type=BACKENDS[name])
        if name == "tensorboard":
            inner["save_dir"] = osp.join(work_dir, TENSORBOARD_DIR)
        elif name == "wandb":
            options = wandb_options or {}
            arm, variant, seed = identity["arm"], identity["variant"], identity["seed"]
            init_kwargs = dict(
                project=options.get("project"),
                entity=options.get("entity"),
                # the W&B project's grouped table: one group per arm and variant, the seeds its members
                group=f"{arm}/{variant}",
                job_type="train",
                name=run_record.run_name(arm, variant, seed),
                tags=list(dict.fromkeys([identity["family"], arm, variant, f"seed{seed}", *options.get("tags", [])])),
                config=dict(run=dict(identity), provenance=dict(provenance)),
                id=run_id,
                mode=mode,
                dir=osp.join(work_dir, WANDB_ROOT),
                save_code=False,
            )
            if mode == "online":
                init_kwargs["resume"] = "allow"  # offline runs of one id are appended by `wandb sync --append`
            inner.update(
                save_dir=osp.join(work_dir, WANDB_ROOT),
                init_kwargs={k: v for k, v in init_kwargs.items() if v is not None},
                # every training series against the training iteration, the validation series against the epoch
                define_metric_cfg=[
                    dict(name="iter", hidden=True),
                    dict(name="epoch", hidden=True),
                    dict(name="coco/*", step_metric="epoch"),
                    dict(name="samples/*", step_metric="epoch"),
                    dict(name="*", step_metric="iter"),
                ],
            )
        configs.append(dict(type="FailSafeVisBackend", name=name, label=name, backend=inner))
    return configs


def provenance(args, work_dir):
    """What a tracked run records of its training: commit, resolved config's hash, versions, seed, device, ...

    Args:
        args (argparse.Namespace): the train tool's arguments.
        work_dir (str): the work dir, holding the resolved config.

    Returns:
        dict: plain values (strings, numbers, lists, dicts).
    """
    import torch

    from dynrcnn.provenance import PROVENANCE_PACKAGES, git_commit, package_versions, sha256_file
    from dynrcnn.run_folder import RESOLVED_CONFIG_FILE

    resolved = osp.join(work_dir, RESOLVED_CONFIG_FILE)
    return dict(
        commit=git_commit(),
        config=args.config,
        config_sha256=sha256_file(resolved) if osp.exists(resolved) else None,
        seed=args.seed,
        deterministic=bool(args.deterministic),
        dataset=args.dataset,
        data_root=args.data_root,
        cfg_options=[f"{k}={v}" for k, v in (args.cfg_options or {}).items()],
        device=torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        world_size=int(os.environ.get("WORLD_SIZE", "1")),
        work_dir=work_dir,
        versions=package_versions((*PROVENANCE_PACKAGES, "tensorboard", "wandb")),
    )


def setup(cfg, args, *, resuming, log=print):
    """Add the chosen tracking backends and the tracking hook to a training's config (in place), after the resume
    decision. Nothing happens without ``--tracking``.

    Args:
        cfg (mmengine.Config): the training's config (its resolved text already recorded in the work dir).
        args (argparse.Namespace): the train tool's arguments (``--tracking``, ``--wandb-*``, ``--work-dir``,
            ``--run-dir``, ``--config``, ``--seed``).
        resuming (bool): whether the training resumes from its work dir (same W&B run, TensorBoard steps go on).
        log (callable): prints a line for the user.

    Returns:
        list[str]: the backends set up.
    """
    backends = list(getattr(args, "tracking", None) or [])
    if not backends:
        return []
    work_dir = args.work_dir
    rank_zero = int(os.environ.get("RANK", "0")) == 0
    if not resuming and rank_zero:
        _clear_aborted_attempt(work_dir, log)
    identity = run_identity(args.run_dir, args.config, args.seed)
    options = dict(project=args.wandb_project, entity=args.wandb_entity, tags=list(args.wandb_tag))
    mode, run_id = "offline", None
    if "wandb" in backends:
        mode, notice = wandb_mode(args.wandb_mode)
        run_id = wandb_run_id(work_dir, resuming, write=rank_zero)
        if notice:
            log(f"{notice} (run id {run_id}, folder {osp.join(work_dir, WANDB_ROOT, 'wandb')})")
    record = provenance(args, work_dir)
    visualizer = cfg.get("visualizer") or dict(type="DetLocalVisualizer", name="visualizer")
    visualizer["vis_backends"] = list(visualizer.get("vis_backends") or [dict(type="LocalVisBackend")]) + vis_backends(
        backends,
        work_dir=work_dir,
        identity=identity,
        provenance=record,
        run_id=run_id,
        wandb_options=options,
        mode=mode,
    )
    cfg.visualizer = visualizer
    cfg.custom_hooks = list(cfg.get("custom_hooks") or []) + [
        dict(type="TrackingHook", provenance=record, sample_images=SAMPLE_IMAGES)
    ]
    log(f"tracking with {', '.join(backends)} in {osp.join(work_dir, TRACKING_DIR)}")
    return backends


def _clear_aborted_attempt(work_dir, log):
    """A training that starts from iteration 0 in a work dir with tracked files (an attempt killed before its first
    checkpoint) starts a new tracked run: the old TensorBoard events would overlap its steps."""
    import shutil

    tracked = osp.join(work_dir, TRACKING_DIR)
    if osp.isdir(tracked):
        shutil.rmtree(tracked)
        log(f"removed {tracked}: tracked files of an attempt that left no checkpoint (the training starts over)")
