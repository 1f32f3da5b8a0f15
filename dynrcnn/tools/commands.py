"""The command lines of the train, evaluate and detect_epochs tools: the one place they are spelled.

The pipeline's rules (through :class:`dynrcnn.pipeline.plan.Plan`), the benchmarks, the GPU check and the tests build
their commands here, so that a benchmark times the command the pipeline runs and a new option is added once.
Standard library only: the planner imports this module when Snakemake builds its DAG.

Each builder returns the command as a list of arguments (:func:`shell` renders one for a shell). ``python`` is the
interpreter: one executable (``sys.executable``, ``"python"``) or a prefix list (``["env", "PYTHONPATH=/repo",
"python"]``).

Print a command (what ``benchmarks/gpu_check.sh`` runs)::

    python -m dynrcnn.tools.commands train CONFIG --work-dir W --run-dir R --seed 0 --data-root D [--gpus 1] ...
    python -m dynrcnn.tools.commands evaluate --run-dir R --family F --arm A --variant V --seed 0 [--gpus 1] ...

(``--lines``: one argument a line, for bash's ``mapfile -t``.)
"""

import argparse
import shlex
import sys
from collections.abc import Sequence

#: The tools' modules (``python -m ...``).
TRAIN = "dynrcnn.tools.train"
EVALUATE = "dynrcnn.tools.evaluate"
DETECT_EPOCHS = "dynrcnn.tools.detect_epochs"
GPU_SLOTS = "dynrcnn.tools.gpu_slots"


def _python(python) -> list[str]:
    return [python] if isinstance(python, str) else [str(p) for p in python]


def train_command(
    config,
    *,
    work_dir,
    run_dir,
    seed,
    data_root,
    dataset="synthetic",
    threads=1,
    processes=1,
    deterministic=False,
    cfg_options: Sequence[str] = (),
    cfg_options_files: Sequence[str] = (),
    extra: Sequence[str] = (),
    python="python",
) -> list[str]:
    """The train tool's command line (:mod:`dynrcnn.tools.train`).

    Args:
        config: the arm's MMDetection config.
        work_dir, run_dir: checkpoints and attempt logs; the run's results folder.
        seed (int): the run's seed.
        data_root, dataset: the dataset root and its layout (``synthetic`` or ``coco``).
        threads (int): torch threads of each process.
        processes (int): processes of the training: more than one starts it with
            ``torch.distributed.run --standalone --nproc-per-node N`` and ``--launcher pytorch``.
        deterministic (bool): torch deterministic algorithms.
        cfg_options: mmengine ``key=value`` overrides (``--cfg-options``).
        cfg_options_files: JSON files of further overrides (``--cfg-options-file``, e.g. a control's endpoint).
        extra: further arguments, last (e.g. :func:`dynrcnn.tracking.train_args`).
        python (str | list[str]): the interpreter.

    Returns:
        list[str]
    """
    launch = _python(python)
    if processes > 1:
        launch += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    cmd = [*launch, "-m", TRAIN, str(config), "--work-dir", str(work_dir), "--run-dir", str(run_dir)]
    cmd += ["--seed", str(seed), "--data-root", str(data_root), "--dataset", dataset, "--threads", str(threads)]
    cmd += ["--launcher", "pytorch" if processes > 1 else "none"]
    if deterministic:
        cmd.append("--deterministic")
    if cfg_options:
        cmd += ["--cfg-options", *map(str, cfg_options)]
    for path in cfg_options_files:
        cmd += ["--cfg-options-file", str(path)]
    return cmd + [str(a) for a in extra]


def evaluate_command(
    run_dir, *, family, arm, variant, seed, dataset="synthetic", threads=1, out=None, detections=None, python="python"
) -> list[str]:
    """The evaluate tool's command line (:mod:`dynrcnn.tools.evaluate`): ``out`` defaults to the run folder's
    metrics.json; ``detections`` evaluates a result file instead of running inference.

    Returns:
        list[str]
    """
    cmd = [*_python(python), "-m", EVALUATE, "--run-dir", str(run_dir), "--family", family, "--arm", arm]
    cmd += ["--variant", variant, "--seed", str(seed), "--dataset", dataset, "--threads", str(threads)]
    if out is not None:
        cmd += ["--out", str(out)]
    if detections is not None:
        cmd += ["--detections", str(detections)]
    return cmd


def detect_epochs_command(run_dir, *, out, threads=1, max_images=0, python="python") -> list[str]:
    """The detect_epochs tool's command line (:mod:`dynrcnn.tools.detect_epochs`); ``max_images`` 0: every val
    image.

    Returns:
        list[str]
    """
    cmd = [*_python(python), "-m", DETECT_EPOCHS, "--run-dir", str(run_dir), "--threads", str(threads)]
    if max_images:
        cmd += ["--max-images", str(max_images)]
    return cmd + ["--out", str(out)]


def arguments(command: Sequence[str]) -> list[str]:
    """The tool's own arguments of a command (what follows ``-m dynrcnn.tools.X``), for calling its ``main``."""
    for i in range(len(command) - 1):
        if command[i] == "-m" and command[i + 1] in (TRAIN, EVALUATE, DETECT_EPOCHS):
            return list(command[i + 2 :])
    raise ValueError(f"not a train, evaluate or detect_epochs command: {shell(command)}")


def job_command(command: Sequence[str], *, gpus=0, threads=1, python="python") -> list[str]:
    """``command`` as a pipeline job runs it: ``OMP_NUM_THREADS`` set, and :mod:`dynrcnn.tools.gpu_slots` giving it
    ``gpus`` GPUs of a local node (it execs the command, so the job's process is the tool itself).

    Returns:
        list[str]
    """
    return ["env", f"OMP_NUM_THREADS={threads}", *_python(python), "-m", GPU_SLOTS, "--gpus", str(gpus), "--", *command]


def shell(command: Sequence[str]) -> str:
    """A command as one shell string (each argument quoted where it needs it)."""
    return shlex.join(command)


def main(argv=None) -> None:
    """Print a tool's command, as a pipeline job runs it with ``--gpus`` (shell-quoted, one line)."""
    parser = argparse.ArgumentParser(prog="python -m dynrcnn.tools.commands", description=main.__doc__)
    parser.add_argument("--python", default=sys.executable, help="the interpreter (default: this one)")
    parser.add_argument("--gpus", type=int, default=None, help="wrap the command in gpu_slots with this many GPUs")
    parser.add_argument("--lines", action="store_true", help="one argument a line (for bash's mapfile -t)")
    tools = parser.add_subparsers(dest="tool", required=True)
    train = tools.add_parser("train")
    train.add_argument("config")
    evaluate = tools.add_parser("evaluate")
    detect = tools.add_parser("detect_epochs")
    for sub in (train, evaluate, detect):
        sub.add_argument("--run-dir", required=True)
        sub.add_argument("--threads", type=int, default=1)
    for sub in (train, evaluate):
        sub.add_argument("--seed", type=int, required=True)
        sub.add_argument("--dataset", default="synthetic")
    train.add_argument("--work-dir", required=True)
    train.add_argument("--data-root", required=True)
    train.add_argument("--processes", type=int, default=1)
    train.add_argument("--deterministic", action="store_true")
    train.add_argument("--cfg-options", nargs="+", default=[])
    for name in ("family", "arm", "variant"):
        evaluate.add_argument(f"--{name}", required=True)
    evaluate.add_argument("--out")
    detect.add_argument("--out", required=True)
    detect.add_argument("--max-images", type=int, default=0)
    args = vars(parser.parse_args(argv))  # the options are named as the builders' parameters
    tool, gpus, lines = args.pop("tool"), args.pop("gpus"), args.pop("lines")
    builder = dict(train=train_command, evaluate=evaluate_command, detect_epochs=detect_epochs_command)[tool]
    cmd = builder(args.pop("config" if tool == "train" else "run_dir"), **args)
    if gpus is not None:
        cmd = job_command(cmd, gpus=gpus, threads=args["threads"], python=args["python"])
    print("\n".join(cmd) if lines else shell(cmd))


if __name__ == "__main__":
    main()
