# Releasable checkpoints (python -m dynrcnn.tools.export): `snakemake export` publishes every run of the config,
# once trained and evaluated, into results/export/{family}/: weights without optimizer state named by their sha256,
# the resolved configs and MMDetection's model-index metafile.yml. Not part of the default target.


rule export:
    """Every run's published weights, config and the family's metafile (the folder is built aside, moved in)."""
    input:
        metrics=PLAN.run_files(run_record.METRICS_FILE),
    output:
        export=directory(f"results/export/{PLAN.family}"),
    log:
        f"results/logs/export/{PLAN.family}.log",
    conda:
        "../envs/dynrcnn.yaml"
    params:
        python=PYTHON,
        family=PLAN.family,
        runs=lambda wildcards, input: [os.path.dirname(path) for path in input.metrics],
    shell:
        "{params.python} -m dynrcnn.tools.export --family {params.family} --out {output.export} "
        "{params.runs} > {log} 2>&1"
