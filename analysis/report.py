"""Write every report table and figure of one config family from finished runs.

Usage::

    python -m analysis.report --runs-dir results/runs/synthetic --out-dir reports/synthetic \\
        --family synthetic --dataset synthetic \\
        --val-ann results/data/synthetic/annotations/instances_val.json --val-images results/data/synthetic/val

It only reads run outputs (never trains, never imports torch). The set of written files is fixed
(:data:`OUTPUTS`), whatever runs exist. A missing or corrupt run output stops it before anything is
written, with exit status 2 and one message naming the run and the file.
"""

import argparse
import sys
import time
from pathlib import Path

from . import figures as F
from .references import load_references
from .runs import RunOutputError, load_runs
from .tables import build_tables, default_runs
# re-exported: the report's file set is defined once, in a module the workflow can import without matplotlib
from .outputs import CATEGORIES, FIGURE_CAPTIONS, FIGURE_EXTS, OUTPUTS, TABLE_CAPTIONS, TABLE_EXTS  # noqa: F401


def caption_stem(output):
    """Caption file stem of an output path: ``tables/ablation.md`` -> ``ablation``."""
    return Path(output).stem


def write_captions(folder):
    """Write one reStructuredText caption per table / figure (``{stem}.rst``) for ``snakemake --report``.

    Args:
        folder (str | Path): destination folder (created).

    Returns:
        list[Path]
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, caption in {**TABLE_CAPTIONS, **FIGURE_CAPTIONS}.items():
        path = folder / f'{stem}.rst'
        path.write_text(caption + '\n', encoding='utf-8')
        paths.append(path)
    return paths


def build_report(runs_dir, out_dir, family, dataset, val_ann=None, val_images=None, score_thr=0.5, smooth=10):
    """Read the runs, then write every table and figure of :data:`OUTPUTS`.

    Args:
        runs_dir (str | Path): ``results/runs/{family}``.
        out_dir (str | Path): ``reports/{family}``.
        family (str): config family (checked against each run's metrics.json).
        dataset (str): ``synthetic`` or ``coco`` (checked likewise).
        val_ann (str | Path, optional): COCO annotation file of the validation split (sample detections).
        val_images (str | Path, optional): folder of the validation images.
        score_thr (float): minimum score of a drawn detection.
        smooth (int): running-mean window of the loss curves, in logged iterations.

    Returns:
        tuple[list[Path], list[Run]]: written files and the runs read.
    """
    out_dir = Path(out_dir)
    refs = load_references()
    runs = load_runs(runs_dir, family=family, dataset=dataset)
    by_arm = default_runs(runs)
    val_set = F.load_val_set(val_ann, val_images) if val_ann is not None else None
    image_ids = val_set.sample_ids() if val_set is not None else []
    epochs = F.sample_epochs(by_arm)
    # Read every detection file the figures need before writing anything.
    detections = F.load_sample_detections(by_arm, image_ids, epochs) if image_ids else {}

    written = []
    for table in build_tables(runs, refs, dataset):
        written += table.write(out_dir / 'tables')
    figs = {
        'dynamics_iou_beta': lambda: F.dynamics_figure(by_arm, dataset, refs),
        'positives_per_image': lambda: F.positives_figure(by_arm, dataset),
        'ap_vs_iou': lambda: F.ap_vs_iou_figure(by_arm, dataset, refs),
        'training_curves': lambda: F.training_curves_figure(by_arm, dataset, smooth=smooth),
    }
    for k in range(F.NUM_SAMPLE_IMAGES):
        image_id = image_ids[k] if k < len(image_ids) else None
        figs[f'sample_detections_{k + 1}'] = (
            lambda image_id=image_id: F.sample_detections_figure(by_arm, val_set, image_id, epochs, detections,
                                                                 dataset, score_thr))
    for stem, make in figs.items():
        written += F.save_figure(make(), out_dir / 'figures' / stem)
    rel = {p.relative_to(out_dir).as_posix() for p in written}
    assert rel == set(OUTPUTS), f'written files differ from OUTPUTS: {sorted(rel ^ set(OUTPUTS))}'
    return written, runs


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog='python -m analysis.report', description=__doc__.split('\n\n')[0])
    p.add_argument('--runs-dir', help='folder holding {arm}/{variant}/seed{seed}/ (results/runs/{family})')
    p.add_argument('--out-dir', help='report folder (reports/{family}); tables/ and figures/ are written in it')
    p.add_argument('--family', help='config family, e.g. synthetic or coco_r50_fpn_1x')
    p.add_argument('--dataset', choices=('synthetic', 'coco'), help='dataset the runs were evaluated on')
    p.add_argument('--val-ann', help='COCO annotation file of the validation split (for the sample detections)')
    p.add_argument('--val-images', help='folder of the validation images (file_name is relative to it)')
    p.add_argument('--score-thr', type=float, default=0.5, help='minimum score of a drawn detection (0.5)')
    p.add_argument('--smooth', type=int, default=10, help='running-mean window of the loss curves (10)')
    p.add_argument('--write-captions', metavar='DIR',
                   help='only write one {stem}.rst caption per output for snakemake --report, then exit')
    args = p.parse_args(argv)
    if args.write_captions is None:
        missing = [f'--{k.replace("_", "-")}' for k in ('runs_dir', 'out_dir', 'family', 'dataset')
                   if getattr(args, k) is None]
        if missing:
            p.error(f'the following arguments are required: {", ".join(missing)}')
        if args.val_images is not None and args.val_ann is None:
            p.error('--val-images needs --val-ann (the ground truth of those images)')
        if args.smooth < 1:
            p.error('--smooth must be >= 1')
    return args


def main(argv=None):
    """CLI entry point; returns the exit status."""
    args = parse_args(argv)
    if args.write_captions is not None:
        paths = write_captions(args.write_captions)
        print(f'wrote {len(paths)} captions to {args.write_captions}')
        return 0
    start = time.perf_counter()
    try:
        written, runs = build_report(args.runs_dir, args.out_dir, args.family, args.dataset, args.val_ann,
                                     args.val_images, args.score_thr, args.smooth)
    except (RunOutputError, F.ReportInputError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    counts = ', '.join(f'{arm} n={len(rs)}' for arm, rs in default_runs(runs).items())
    print(f'wrote {len(written)} files to {args.out_dir} from {len(runs)} runs (default variant: {counts}) '
          f'in {time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
