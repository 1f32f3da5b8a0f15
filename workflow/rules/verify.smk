# The expected-results gate (python -m analysis.verify): `snakemake verify` compares each arm's seed mean of box AP
# (default variant) with the expected value (COCO: the paper's; synthetic: analysis/data/expected_synthetic.csv)
# and fails on a FAIL, the verdict table in its log. Not part of the default target.


rule verify:
    """PASS/FAIL per arm; the table is written to results/verify/{family}.md only when every arm passes."""
    input:
        metrics=PLAN.run_files(
            run_record.METRICS_FILE, [run for run in PLAN.runs if run.variant == run_record.DEFAULT_VARIANT]
        ),
    output:
        verdict=f"results/verify/{PLAN.family}.md",
    log:
        f"results/logs/verify/{PLAN.family}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        python=PYTHON,
        family=PLAN.family,
    shell:
        "{params.python} -m analysis.verify check --family {params.family} --metrics {input.metrics} "
        "--out {output.verdict} > {log} 2>&1 || (cat {log} >&2; exit 1)"


localrules:
    verify,
