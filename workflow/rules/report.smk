if config["report"]["enabled"]:

    rule report:
        """The report's tables and figures (python -m analysis.report) and their captions for --report."""
        input:
            metrics=all_metrics(),
            scalars=all_scalars(),
            collected=f"results/collected/{FAMILY}/metrics.csv",
            data=data_input(),
        output:
            **report_files(),
        log:
            f"results/logs/report/{FAMILY}.log",
        params:
            python=PYTHON,
            runs_dir=lambda wildcards: f"results/runs/{FAMILY}",
            out_dir=lambda wildcards: f"reports/{FAMILY}",
            captions=lambda wildcards: CAPTIONS_DIR,
            family=FAMILY,
            dataset=DATASET,
            val_ann=lambda wildcards: val_annotations(),
            val_images=lambda wildcards: val_images(),
        conda:
            "../envs/analysis.yaml"
        shell:
            "({params.python} -m analysis.report --write-captions {params.captions} && "
            "{params.python} -m analysis.report --runs-dir {params.runs_dir} --out-dir {params.out_dir} "
            "--family {params.family} --dataset {params.dataset} --val-ann {params.val_ann} "
            "--val-images {params.val_images}) > {log} 2>&1"
