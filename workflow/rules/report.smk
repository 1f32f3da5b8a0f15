# The report is built in results/report/{family}/ and copied to reports/{family}/ only once complete: a failed
# report job deletes its own declared outputs (Snakemake's rule), never the last good report the user reads.
if PLAN.report_enabled:

    rule report:
        """The report's tables and figures (python -m analysis.report) from exactly this config's runs: their
        metrics, scalars, per-epoch detections and the jobs' benchmark files (the compute table) are the inputs, and
        the report reads nothing else (with report.from_runs, the runs and benchmark files that exist: the workflow
        then holds the report rules only)."""
        input:
            **PLAN.report_inputs,
            data=PLAN.report_data_inputs,
        output:
            **report_files(PLAN.report_dir),
        log:
            f"results/logs/report/{PLAN.family}.log",
        conda:
            "../envs/analysis.yaml"
        params:
            python=PYTHON,
            out_dir=lambda wildcards, output: os.path.commonpath(list(output)),
            epochs=epoch_detection_flags,
            benchmarks=benchmark_flags,
            family=PLAN.family,
            dataset=PLAN.dataset,
            val=PLAN.report_val_args,
        shell:
            "{params.python} -m analysis.report --metrics {input.metrics} --scalars {input.scalars} "
            "{params.epochs} {params.benchmarks} --out-dir {params.out_dir} --family {params.family} "
            "--dataset {params.dataset} {params.val} > {log} 2>&1"

    rule publish_report:
        """The complete report copied into reports/{family}/, with each file's caption for `snakemake --report`."""
        input:
            **report_files(PLAN.report_dir),
        output:
            **report_files(PLAN.published_report_dir, wrap=True),
        log:
            f"results/logs/report/{PLAN.family}.publish.log",
        conda:
            "../envs/analysis.yaml"
        params:
            source=lambda wildcards, input: os.path.commonpath(list(input)),
            target=lambda wildcards, output: os.path.commonpath(list(output)),
            files=PLAN.report_outputs,
        shell:
            "(for f in {params.files}; do cp {params.source}/$f {params.target}/$f; done) > {log} 2>&1"
