"""The report's fixed set of files, their captions and categories.

Kept free of plotting and data-frame imports: the Snakemake workflow reads it while it builds the DAG (the report
rule's outputs), where only the standard library can be assumed.
"""

#: Sample-detection figures: one per validation image of a fixed set.
NUM_SAMPLE_IMAGES = 3

TABLE_EXTS = ("md", "tex", "csv")
FIGURE_EXTS = ("png", "pdf")

TABLE_CAPTIONS = {
    "ablation": (
        'Component ablation (the paper\'s table "effect of each component"): AP, AP50, AP60, AP70, AP80, '
        "AP90 per arm, ours (mean ± sample std over n seeds) beside the paper's; the difference ours − paper only "
        "for a COCO family. Every reference number carries its status: [v] verified, [d] derived, [u] unverified."
    ),
    "breakdown": (
        "Dynamic R-CNN full breakdown (AP, AP50, AP75, APS, APM, APL): ours (the family's model, named in the "
        "title and row) against the paper's R-50-FPN 1x (test-dev, as quoted), the reproduction report (val2017) "
        "and the MMDetection model zoo."
    ),
    "gains": (
        "Gain of each arm over the baseline per metric: the mean of the per-seed differences with its 95 % "
        "confidence interval (paired t-test, Student's t with n - 1 degrees of freedom; Welch's t where the seed "
        "sets differ) and its p-value Holm-adjusted over the three arms at that metric; the paper's gain with its "
        "status; and the baseline's seed std as the run-to-run noise."
    ),
    "sweeps": (
        "Hyper-parameter sweeps over K_I (iou_topk), K_beta (beta_topk) and C (update interval): AP per "
        "variant and the paired difference from the default (95 % CI, Holm-adjusted p over an arm's variants); "
        'says "no sweep runs" when there are none.'
    ),
    "controls": (
        "Controls: the baseline with its SmoothL1 beta, box loss (L1) or IoU threshold fixed for the whole training, "
        "and the static endpoint (threshold and beta fixed at the values Dynamic R-CNN of the same seed ended with), "
        "against the baseline and Dynamic R-CNN: AP, AP50 ... AP90 (mean ± sample std over seeds) and each control's "
        "paired difference from the baseline and from Dynamic R-CNN (95 % CI, paired t; p Holm-adjusted over the "
        "controls per metric and side); the first author's statements about fixed betas and L1 loss (issue #10 of "
        'the authors\' repository) with their status; says "no control runs" when there are none.'
    ),
    "runs": (
        "Runs included in the report: per arm and variant the seeds (n), GPUs x images per GPU, learning rate, "
        "device, wall time, git commit and config hash; per run its AP, AP50, AP75, APS, APM, APL and AP at "
        "single IoU thresholds. The CSV is the one per-run table: one row per run with its hyper-parameters, "
        "every metric and its provenance."
    ),
    "compute": (
        "Compute per arm and in total from Snakemake's benchmark files of the train, evaluate and epoch_detections "
        "jobs: jobs, wall hours, CPU-hours, GPU-hours (wall time x the job's GPUs), peak resident memory, peak GPU "
        'memory of the trainings and the device; says "no benchmark files given" when the report got none.'
    ),
    "reference_numbers": (
        "Every reference number used by the report with its source, split and status (verified / derived / "
        "unverified / reported)."
    ),
}

FIGURE_CAPTIONS = {
    "dynamics_iou_beta": (
        "Training dynamics: the IoU threshold (top) and the SmoothL1 beta (bottom) in force against training "
        "iteration for every arm (mean over seeds, band = min-max over seeds); the paper's central figure. Arms "
        "without the component (no DLA: threshold; no DSL: beta) stay at the start value and coincide: they are "
        "drawn thin with staggered markers, and the legend says so."
    ),
    "positives_per_image": (
        "Positive RoIs per image in the R-CNN head against training iteration for every arm (mean over seeds, "
        "band = min-max over seeds); the dashed line is the R-CNN sampler's cap, RoIs per image x positive fraction "
        "of the dataset's configs (the run records do not carry the sampler; the label names the config)."
    ),
    "ap_vs_iou": (
        "AP against the IoU threshold of the evaluation (0.50 ... 0.95) for the four arms (mean ± sample std over "
        "seeds): where DLA and DSL help. The controls are in gain_vs_iou."
    ),
    "ap_per_seed": (
        "AP, AP50 and AP75 of every seed as a line across the arms (a seed fixes the initial weights and the data "
        "order in every arm), with each arm's mean over its seeds (black bar): parallel lines are a gain that every "
        "seed sees, crossing lines one that the seed-to-seed noise can hide."
    ),
    "gain_vs_iou": (
        "Gain of each arm over the baseline against the IoU threshold of the AP (AP50 ... AP95): mean of the "
        "per-seed differences with its 95 % confidence interval (paired t, Student t with n - 1 degrees of freedom; "
        "Welch t where the seed sets differ; no interval for n = 1), per threshold and not adjusted for the ten "
        "thresholds. With control runs, further panels show each control minus Dynamic R-CNN, the same way, at "
        "most four lines a panel. Hatched: thresholds where the baseline's mean AP is below 2 points, at its floor, "
        "where no gain can be tested."
    ),
    "training_curves": (
        "Training losses (running mean of up to 10 logged iterations, at most 5 % of a run) against iteration, "
        "every arm (mean over seeds, band = min-max over seeds); loss_bbox in two panels, since the DSL arms train "
        "SmoothL1 at a moving beta, another function than the fixed-beta arms'. Validation bbox AP against epoch "
        "only when the runs validate at more than one epoch (the default validates once, at the end)."
    ),
}
for _k in range(1, NUM_SAMPLE_IMAGES + 1):
    FIGURE_CAPTIONS[f"sample_detections_{_k}"] = (
        f"Sample detections, validation image {_k} of a fixed set of {NUM_SAMPLE_IMAGES} (the first images "
        "with ground truth in annotation-file order): each arm's boxes (rows, lowest seed) at each saved "
        "checkpoint (columns, at most four, evenly spaced), ground truth dashed green, the highest-scoring "
        "detections above the score threshold (0.5 unless --score-thr says otherwise, at most 8 per panel), each "
        "labelled with its class and score."
    )

#: The verdict page (analysis/summary.py), first in ``snakemake --report``.
SUMMARY_FILE = "SUMMARY.md"
SUMMARY_CAPTION = (
    "Verdict page: one row per claim of the paper (DLA, DSL and DLA + DSL improve AP; the gain grows with the IoU "
    "threshold; the threshold rises and beta falls; DLA + DSL beats each alone; with controls, the static endpoint "
    "against Dynamic R-CNN), with the paper's value and status, our paired mean over seeds with its 95 % confidence "
    "interval (paired t, n - 1 degrees of freedom) and sign agreement, a verdict from one written rule on the "
    "Holm-adjusted p (alpha 0.05), and the seeds a paired test needs for the paper's effect; then the family's "
    "deviations from the paper, the one deviations block of the report."
)

#: Every file the CLI writes, relative to ``--out-dir``, with its caption.
OUTPUTS = {
    SUMMARY_FILE: SUMMARY_CAPTION,
    **{f"tables/{stem}.{ext}": cap for stem, cap in TABLE_CAPTIONS.items() for ext in TABLE_EXTS},
    **{f"figures/{stem}.{ext}": cap for stem, cap in FIGURE_CAPTIONS.items() for ext in FIGURE_EXTS},
}

#: Category of each output for ``snakemake --report`` grouping.
CATEGORIES = {
    SUMMARY_FILE: "Summary",
    **{f"tables/{stem}.{ext}": "Tables" for stem in TABLE_CAPTIONS for ext in TABLE_EXTS},
    **{
        f"figures/{stem}.{ext}": (
            "Sample detections"
            if stem.startswith("sample_")
            else "Accuracy"
            if stem in ("ap_vs_iou", "ap_per_seed", "gain_vs_iou")
            else "Training dynamics"
        )
        for stem in FIGURE_CAPTIONS
        for ext in FIGURE_EXTS
    },
}


# Prose notes of the tables, beside their captions (analysis/tables.py prints them).
STATS_TEST = (
    "paired t-test over the seeds both sides have (a seed fixes the initial weights and the data order in every "
    "run), two-sided, with a 95 % confidence interval from Student's t with n − 1 degrees of freedom; where the seed "
    "sets differ, Welch's t-test and interval with its own degrees of freedom, marked (Welch); each interval is for "
    "its own comparison (not adjusted for the others: Holm adjusts the p-values only)"
)
GAINS_NOTE = (
    "Gain = mean over seeds of (arm − baseline) per seed, `default` variants, in AP points. Cell: mean [95 % CI] "
    f"p_H, from a {STATS_TEST}; p_H is Holm-adjusted within each metric's family of the three arms (not across "
    "metrics: with ten metrics, reading every column multiplies the chances of a small p by luck). '(n = 1)': one "
    "seed, no interval and no test. The last row is the baseline's seed std, the noise of a single run. The verdict "
    "of each claim is on SUMMARY.md."
)
PAPER_GAINS_NOTE = (
    "Paper gains: the abstract's 1.9 AP and 5.5 AP90 gains of Dynamic R-CNN (verified); the others are differences of "
    "the paper's ablation-table numbers and carry the weaker status of the two."
)
ABLATION_PAPER_NOTE = (
    'Paper: table "effect of each component" (R-50-FPN, 1x schedule, COCO val2017). Δ = ours − paper in AP points; '
    "it carries the status marker of the paper's number it uses. AP60 ... AP90 are COCOeval's AP at that single IoU "
    "threshold."
)
ABLATION_SYNTHETIC_NOTE = (
    'Paper: table "effect of each component" (R-50-FPN, 1x schedule, COCO val2017), printed beside ours for the '
    "layout only; no difference is computed, since synthetic and COCO numbers are not comparable. AP60 ... AP90 are "
    "COCOeval's AP at that single IoU threshold."
)
SWEEPS_NONE_NOTE = "No sweep runs: no variant other than `default` was found among the runs."
SWEEPS_NOTE = (
    "Variants other than `default` vary K_I (iou_topk), K_β (beta_topk) and C (update_iter_interval); the values are "
    "the ones the runs recorded. AP in % (mean ± sample std over n seeds). Δ AP vs default: the variant minus the "
    f"same arm's default variant, mean [95 % CI] p_H, from a {STATS_TEST}; p_H is Holm-adjusted over the sweep "
    "variants of that arm."
)
CONTROLS_NONE_NOTE = (
    "No control runs: the config trains none (controls in the pipeline config: fixed betas, L1 loss, fixed IoU "
    "thresholds, the static endpoint; configs/pipeline/controls.yaml)."
)
CONTROLS_NOTE = (
    "Controls are the baseline (DLA and DSL off) with the R-CNN head's IoU threshold (positive = negative = "
    "minimum-positive threshold, as Dynamic R-CNN sets them), SmoothL1 beta or box loss fixed for the whole "
    "training; the values are those each run recorded (run.control of its metrics.json). The static endpoint fixes "
    "threshold and beta at the values the Dynamic R-CNN run of the same seed ended with (several seeds: mean "
    "(min–max)). 'config': the baseline config's own values; 'dynamic': Dynamic R-CNN's, changing during training."
)
CONTROLS_STATS_NOTE = (
    "AP in % (mean ± sample std over n seeds, COCOeval). Differences: mean [95 % CI] p_H in AP points, from a "
    f"{STATS_TEST}; p_H is Holm-adjusted within each metric over the controls, separately against the baseline and "
    "against Dynamic R-CNN."
)
CONTROLS_READING_NOTE = (
    "Reading the static endpoint: a difference from Dynamic R-CNN whose interval excludes 0 says the schedule of the "
    "values matters on this data; an interval that includes 0 shows no equality: it says which shortfalls (down to "
    "its lower end) the seeds cannot exclude, so the gain may or may not come from where the threshold and beta end."
)
STATIC_RANK_NOTE = (
    "The static endpoint takes rank 0's final threshold and beta: with several GPUs, each GPU ends at its own values "
    "when the statistics are not synchronised (both implementations), so on multi-GPU runs it is one rank's endpoint, "
    "not the mean over ranks."
)
SYNTHETIC_NOTE = (
    "Dataset: synthetic. The paper's and the other references' numbers are for COCO and are "
    "shown for layout only: differences against them say nothing about the reproduction."
)
COCO_NOTE = "Dataset: COCO; our runs are evaluated on val2017."
SEEDS_NOTE = (
    "Ours: mean ± sample standard deviation (ddof = 1) over the n seeds of the `default` variant, "
    'COCOeval AP in percent; with n = 1 the single value is shown; "—": no run or no reference '
    'number; "undef.": COCOeval gives -1 (no ground truth in that range).'
)
RUNS_NOTES = (
    "One row per arm and variant; a cell with several values lists them per seed (in seed order), or sorted when "
    "it says nothing per seed (batch, lr, device, CPU).",
    "CPU: the training machine's CPU model and the instruction set torch's CPU kernels used "
    "(torch.backends.cpu.get_cpu_capability()); a CPU run gives other numbers for the same seed on another "
    "CPU type, so numbers compare across machines only as samples of the seed-to-seed spread.",
    "Per-run metrics: COCOeval box AP in percent (pycocotools on the val split, maxDets 100), one row per "
    'run; AP60 ... AP90 are AP at that single IoU threshold; "undef.": COCOeval gives -1 (no ground '
    "truth in that range). The CSV has one row per run: its hyper-parameters, AP, AP50, AP75, APS, APM, "
    "APL and AP55 ... AP95 in percent (empty where undefined), and its provenance.",
)
