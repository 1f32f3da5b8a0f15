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
        "AP90 per arm, ours (mean ± sample std over n seeds) against the paper and the difference. "
        "Every reference number carries its status: [v] verified, [d] derived, [u] unverified. On the "
        "synthetic dataset the paper's COCO numbers are shown for layout only."
    ),
    "breakdown": (
        "Dynamic R-CNN full breakdown (AP, AP50, AP75, APS, APM, APL): ours against the paper "
        "(test-dev, as quoted), the reproduction report (val2017) and the MMDetection model zoo."
    ),
    "gains": (
        "Gain of each arm over the baseline per metric, ours (± standard error of the difference of seed "
        "means, marked with an asterisk when larger than twice that) and the paper's, with the baseline's "
        "seed std as the run-to-run noise."
    ),
    "sweeps": (
        "Hyper-parameter sweeps over K_I (iou_topk), K_beta (beta_topk) and C (update interval): AP per "
        'variant and the change against the default; says "no sweep runs" when there are none.'
    ),
    "controls": (
        "Controls: the baseline with its SmoothL1 beta, box loss (L1) or IoU threshold fixed for the whole training, "
        "and the static endpoint (threshold and beta fixed at the values Dynamic R-CNN of the same seed ended with), "
        "against the baseline and Dynamic R-CNN: AP, AP50 ... AP90 (mean ± sample std over seeds), each control's "
        "gain over the baseline and difference from Dynamic R-CNN (± standard error), and the paper's statements "
        'about fixed betas and L1 loss with their status; says "no control runs" when there are none.'
    ),
    "runs": (
        "Runs included in the report: per arm and variant the seeds (n), GPUs x images per GPU, learning rate, "
        "device, wall time, git commit and config hash; per run its AP, AP50, AP75, APS, APM, APL and AP at "
        "single IoU thresholds. The CSV is the one per-run table: one row per run with its hyper-parameters, "
        "every metric and its provenance."
    ),
    "reference_numbers": (
        "Every reference number used by the report with its source, split and status (verified / derived / unverified)."
    ),
}

FIGURE_CAPTIONS = {
    "dynamics_iou_beta": (
        "Training dynamics: the IoU threshold (top) and the SmoothL1 beta (bottom) in force against training "
        "iteration for every arm (mean over seeds, band = min-max over seeds); the paper's central figure. Arms "
        "without the component (no DLA: threshold; no DSL: beta) stay at the start value and coincide: they are "
        "drawn thin with staggered markers, and a note in the panel says so."
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
        "checkpoint (columns, at most six, evenly spaced), ground truth dashed green, the highest-scoring "
        "detections above the score threshold (0.5 unless --score-thr says otherwise, at most 8 per panel), each "
        "labelled with its class and score."
    )

#: Every file the CLI writes, relative to ``--out-dir``, with its caption.
OUTPUTS = {
    **{f"tables/{stem}.{ext}": cap for stem, cap in TABLE_CAPTIONS.items() for ext in TABLE_EXTS},
    **{f"figures/{stem}.{ext}": cap for stem, cap in FIGURE_CAPTIONS.items() for ext in FIGURE_EXTS},
}

#: Category of each output for ``snakemake --report`` grouping.
CATEGORIES = {
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
