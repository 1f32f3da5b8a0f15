"""Write every report table and figure of one config family from the given finished runs.

Usage (R is a run folder results/runs/{family}/{arm}/{variant}/seed{seed}; the workflow passes every run of the
current config)::

    python -m analysis.report --metrics R1/metrics.json R2/metrics.json ... --scalars R1/scalars.json ... \\
        --epoch-detections R1/epoch_detections ... --out-dir results/report/synthetic \\
        --family synthetic --dataset synthetic \\
        --val-ann results/data/synthetic/annotations/instances_val.json --val-images results/data/synthetic/val

It reads exactly the given run files (never scans a folder for runs, never trains, never imports torch). The set
of written files is fixed (:data:`OUTPUTS`), whatever runs are given. It builds the report in a temporary folder
next to --out-dir and puts it in place of --out-dir only when complete: a missing or corrupt input stops it with
exit status 2 and one message naming the run and the file, and leaves --out-dir as it was.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from dynrcnn.fileio import replace_dir

from . import figures
from .collapsed_runs import collapsed_runs
from .collapsed_runs import render_notice as render_collapsed
from .compute import ComputeError
from .compute import load as load_benchmarks

# re-exported: the report's file set is defined once, in a module the workflow can import without matplotlib
from .outputs import (  # noqa: F401
    CATEGORIES,
    FIGURE_CAPTIONS,
    FIGURE_EXTS,
    OUTPUTS,
    SUMMARY_CAPTION,
    SUMMARY_FILE,
    TABLE_CAPTIONS,
    TABLE_EXTS,
)
from .provenance_flags import flag_runs, render_notice
from .references import load_references
from .results import compute
from .runs import RunOutputError, load_runs
from .summary import write_summary
from .tables import build_tables, control_runs, default_runs
from .verify import VerifyError, expectations, verify_markdown, verify_rows

#: What --out-dir may hold: the report owns the folder and replaces it whole.
OUT_DIR_ENTRIES = ("tables", "figures", SUMMARY_FILE)


class ReportOutputError(Exception):
    """--out-dir cannot be replaced (it holds something other than a report)."""


def captions():
    """``{stem: caption}`` of every table and figure (one ``{stem}.rst`` file each for ``snakemake --report``)."""
    return {"SUMMARY": SUMMARY_CAPTION, **TABLE_CAPTIONS, **FIGURE_CAPTIONS}


def caption_text(caption):
    """The content of a caption file."""
    return caption + "\n"


def write_captions(folder):
    """Write one reStructuredText caption per table / figure (``{stem}.rst``) for ``snakemake --report``.

    The workflow's captions are these files, committed in ``workflow/report/captions/`` (a test keeps them equal).

    Args:
        folder (str | Path): destination folder (created).

    Returns:
        list[Path]
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, caption in captions().items():
        path = folder / f"{stem}.rst"
        path.write_text(caption_text(caption), encoding="utf-8")
        paths.append(path)
    return paths


def build_report(
    metrics_files,
    scalars_files,
    epoch_detection_dirs,
    out_dir,
    family,
    dataset,
    val_ann=None,
    val_images=None,
    score_thr=0.5,
    smooth=10,
    notices=(),
    benchmark_files=None,
):
    """Read the given runs, then write every table and figure of :data:`OUTPUTS` into ``out_dir``.

    ``out_dir`` is written in place; :func:`main` passes a fresh temporary folder.

    Args:
        metrics_files (list): one ``metrics.json`` per run.
        scalars_files (list): one ``scalars.json`` per run (matched to its run by folder).
        epoch_detection_dirs (list): one ``epoch_detections`` folder per run, or none.
        out_dir (str | Path): destination folder.
        family (str): config family (checked against each run's metrics.json).
        dataset (str): ``synthetic`` or ``coco`` (checked likewise).
        val_ann (str | Path, optional): COCO annotation file of the validation split (sample detections).
        val_images (str | Path, optional): folder of the validation images.
        score_thr (float): minimum score of a drawn detection.
        smooth (int): running-mean window of the loss curves, in logged iterations.
        notices (Sequence[str]): lines printed under the banner of SUMMARY.md and first under the runs table (the
            mixed-provenance notice of :func:`analysis.provenance_flags.flag_runs` is added to them).
        benchmark_files (list, optional): Snakemake benchmark TSVs of the runs' jobs (the compute table); ``None``
            or empty: the compute table says that no benchmark files were given.

    Returns:
        tuple[list[Path], list[Run]]: written files and the runs read.
    """
    out_dir = Path(out_dir)
    refs = load_references()
    runs = load_runs(metrics_files, scalars_files, epoch_detection_dirs, family=family, dataset=dataset)
    by_arm = default_runs(runs)
    # Read every detection file the figures need before writing anything.
    samples = sample_inputs(by_arm, val_ann, val_images)
    benchmarks = load_benchmarks(benchmark_files or [], [r.path for r in runs])
    flags = flag_runs(runs)
    res = compute(runs)
    summary_notices, table_notices = provenance_notices(notices, flags, collapsed_runs(res, runs))
    verify = verify_section(runs, family, dataset)
    written = [write_summary(out_dir / SUMMARY_FILE, res, refs, family, dataset, summary_notices, verify)]
    marked = {f.run: f for f in flags}
    for table in build_tables(runs, refs, dataset, family, res, table_notices, marked, benchmarks):
        written += table.write(out_dir / "tables")
    makers = figure_makers(runs, by_arm, dataset, refs, samples, score_thr, smooth)
    written += figures.save_figures(makers, out_dir / "figures", first=SLOW_FIGURES)
    rel = {p.relative_to(out_dir).as_posix() for p in written}
    assert rel == set(OUTPUTS), f"written files differ from OUTPUTS: {sorted(rel ^ set(OUTPUTS))}"
    return written, runs


def provenance_notices(notices, flags, collapsed=()):
    """The notice lines of SUMMARY.md and of the runs table: ``notices``, :func:`render_notice` of ``flags`` and
    :func:`analysis.collapsed_runs.render_notice` of ``collapsed``.

    Returns:
        tuple[list[str], list[str]]: SUMMARY.md's lines (the notice as written, quoted under the banner) and
        the runs table's notes (one note per line, the bullets' ``- `` dropped: each note is a bullet already).
    """
    lines = render_notice(flags).splitlines() + render_collapsed(collapsed).splitlines()
    notes = [line[2:] if line.startswith("- ") else line for line in lines if line.strip()]
    return [*notices, *lines], [*notices, *notes]


def verify_section(runs, family, dataset):
    """The expected-results gate (:mod:`analysis.verify`) of the default-variant runs, as SUMMARY.md's section.

    Returns:
        str: the markdown of :func:`analysis.verify.verify_markdown`, or one line saying why there is none (no
        expectations for this family).
    """
    ap_by_arm = {}
    for arm, rs in default_runs(runs).items():
        ap_by_arm[arm] = [100 * r.metrics["AP"] for r in rs]
    try:
        expected = expectations(family, dataset)
    except VerifyError as e:
        return f"No expected values for family `{family}`, so nothing is verified: {e}\n"
    return verify_markdown(verify_rows(ap_by_arm, expected), family)


#: The slowest figures (16 image panels with labelled boxes each; the loss curves of every run), which the worker
#: processes start first so that none of them is left alone at the end.
SLOW_FIGURES = (*(f"sample_detections_{k + 1}" for k in range(figures.NUM_SAMPLE_IMAGES)), "training_curves")


def sample_inputs(by_arm, val_ann=None, val_images=None):
    """What the sample-detection figures draw: the validation set, its sample images, the shown epochs and the
    detections of those images and epochs (all read here, before anything is written).

    Returns:
        tuple: (ValSet | None, list[int] image ids, list[int] epochs, dict of detections).
    """
    val_set = figures.load_val_set(val_ann, val_images) if val_ann is not None else None
    image_ids = val_set.sample_ids() if val_set is not None else []
    epochs = figures.sample_epochs(by_arm)
    detections = figures.load_sample_detections(by_arm, image_ids, epochs) if image_ids else {}
    return val_set, image_ids, epochs, detections


def figure_makers(runs, by_arm, dataset, refs, samples, score_thr=0.5, smooth=10):
    """``{stem: function building the figure}`` of every report figure (:func:`figures.save_figures` draws them).

    Args:
        runs (list[Run]): every run (the controls of ``gain_vs_iou``).
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco``.
        refs (dict): reference numbers.
        samples (tuple): from :func:`sample_inputs`.
        score_thr (float): minimum score of a drawn detection.
        smooth (int): running-mean window of the loss curves, in logged iterations.

    Returns:
        dict[str, Callable[[], Figure]]
    """
    val_set, image_ids, epochs, detections = samples
    makers = {
        "dynamics_iou_beta": lambda: figures.dynamics_figure(by_arm, dataset, refs),
        "positives_per_image": lambda: figures.positives_figure(by_arm, dataset),
        "ap_vs_iou": lambda: figures.ap_vs_iou_figure(by_arm, dataset, refs),
        "ap_per_seed": lambda: figures.ap_per_seed_figure(by_arm, dataset),
        "gain_vs_iou": lambda: figures.gain_vs_iou_figure(by_arm, dataset, refs, controls=control_runs(runs)),
        "training_curves": lambda: figures.training_curves_figure(by_arm, dataset, smooth=smooth),
    }
    for k in range(figures.NUM_SAMPLE_IMAGES):
        image_id = image_ids[k] if k < len(image_ids) else None
        makers[f"sample_detections_{k + 1}"] = lambda image_id=image_id: figures.sample_detections_figure(
            by_arm, val_set, image_id, epochs, detections, dataset, score_thr
        )
    return makers


def check_out_dir(out_dir):
    """Refuse an --out-dir that holds anything but a report's ``SUMMARY.md``, ``tables/`` and ``figures/`` (it is
    replaced)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportOutputError(f"--out-dir {out_dir}: not a folder")
    other = sorted(p.name for p in out_dir.iterdir() if p.name not in OUT_DIR_ENTRIES) if out_dir.exists() else []
    if other:
        raise ReportOutputError(
            f"--out-dir {out_dir}: holds {', '.join(other)}, which a report does not; the "
            f"report replaces the folder whole, so pass a folder of its own"
        )


def replace_report(args):
    """:func:`build_report` into a temporary folder next to ``args.out_dir``, then put it in place of
    ``args.out_dir`` (:func:`dynrcnn.fileio.replace_dir`); on any failure ``args.out_dir`` stays as it was.

    Returns:
        tuple[list[Path], list[Run]]: the files written (under ``args.out_dir``) and the runs read.
    """
    out_dir = Path(args.out_dir)
    check_out_dir(out_dir)
    parent = out_dir.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    # the new report is built in {tmp}/report (mkdtemp's folder is private; the report folder is an ordinary one)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.absolute().name}.tmp-", dir=parent))
    try:
        new = tmp / "report"
        new.mkdir()
        written, runs = build_report(
            args.metrics,
            args.scalars,
            args.epoch_detections,
            new,
            args.family,
            args.dataset,
            args.val_ann,
            args.val_images,
            args.score_thr,
            args.smooth,
            benchmark_files=args.benchmarks,
        )
        replace_dir(new, out_dir)
    finally:
        shutil.rmtree(tmp)
    return [out_dir / p.relative_to(new) for p in written], runs


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m analysis.report", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--metrics",
        nargs="+",
        default=[],
        metavar="FILE",
        help="metrics.json of every run, in its run folder {arm}/{variant}/seed{seed}/",
    )
    p.add_argument(
        "--scalars",
        nargs="+",
        default=[],
        metavar="FILE",
        help="scalars.json of every run (matched to its metrics.json by run folder)",
    )
    p.add_argument(
        "--epoch-detections",
        nargs="+",
        default=[],
        metavar="DIR",
        help="epoch_detections folder of every run, for the sample detections (optional)",
    )
    p.add_argument(
        "--benchmarks",
        nargs="*",
        default=[],
        metavar="FILE",
        help="Snakemake benchmark files (results/benchmarks/{rule}/{family}/...tsv) of the runs' train, evaluate "
        "and epoch_detections jobs, for the compute table (optional: without them it says none were given)",
    )
    p.add_argument(
        "--out-dir",
        help="report folder (results/report/{family}), replaced whole when the report is "
        "complete; it holds SUMMARY.md, tables/ and figures/ only",
    )
    p.add_argument("--family", help="config family, e.g. synthetic or coco_r50_fpn_1x")
    p.add_argument("--dataset", choices=("synthetic", "coco"), help="dataset the runs were evaluated on")
    p.add_argument("--val-ann", help="COCO annotation file of the validation split (for the sample detections)")
    p.add_argument("--val-images", help="folder of the validation images (file_name is relative to it)")
    p.add_argument("--score-thr", type=float, default=0.5, help="minimum score of a drawn detection (0.5)")
    p.add_argument("--smooth", type=int, default=10, help="running-mean window of the loss curves (10)")
    p.add_argument(
        "--write-captions",
        metavar="DIR",
        help="only write one {stem}.rst caption per output for snakemake --report, then exit",
    )
    args = p.parse_args(argv)
    if args.write_captions is None:
        missing = [
            f"--{k.replace('_', '-')}"
            for k in ("metrics", "scalars", "out_dir", "family", "dataset")
            if not getattr(args, k)
        ]
        if missing:
            p.error(f"the following arguments are required: {', '.join(missing)}")
        if args.val_images is not None and args.val_ann is None:
            p.error("--val-images needs --val-ann (the ground truth of those images)")
        if args.smooth < 1:
            p.error("--smooth must be >= 1")
    return args


def main(argv=None):
    """CLI entry point; returns the exit status."""
    args = parse_args(argv)
    if args.write_captions is not None:
        paths = write_captions(args.write_captions)
        print(f"wrote {len(paths)} captions to {args.write_captions}")
        return 0
    start = time.perf_counter()
    try:
        written, runs = replace_report(args)
    except (RunOutputError, figures.ReportInputError, ReportOutputError, ComputeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{arm} n={len(rs)}" for arm, rs in default_runs(runs).items())
    print(
        f"wrote {len(written)} files to {args.out_dir} from {len(runs)} runs (default variant: {counts}) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
