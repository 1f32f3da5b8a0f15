# The acceptance check (a config with check.enabled, e.g. configs/pipeline/check.yaml or coco_check.yaml): every arm
# trains the first check.iterations iterations through the train rule (variant 'check'), then this rule gates them
# (python -m analysis.check) and writes reports/{family}_check/; a FAIL fails the job, so snakemake exits non-zero.
if PLAN.checking:

    rule check:
        """PASS/FAIL per gate in reports/{family}_check/check.md (kept on a FAIL); the output marker only on PASS."""
        input:
            scalars=PLAN.run_files(run_record.SCALARS_FILE),
        output:
            passed=PLAN.check_marker,
        log:
            f"results/logs/check/{PLAN.family}.log",
        conda:
            "../envs/analysis.yaml"
        params:
            python=PYTHON,
            family=PLAN.family,
            dataset=PLAN.dataset,
            runs=PLAN.check_runs_args(),
            out=PLAN.check_dir,
            update_interval=PLAN.check_settings()["update_interval"],
            initial_beta=PLAN.check_settings()["initial_beta"],
            tolerance=PLAN.config["check"]["trajectory_tolerance"],
            window=PLAN.config["check"]["loss_window"],
            rtol=PLAN.config["check"]["identical_rtol"],
        shell:
            "{params.python} -m analysis.check --family {params.family} --dataset {params.dataset} "
            "--update-interval {params.update_interval} --initial-beta {params.initial_beta} "
            "--tolerance {params.tolerance} --window {params.window} --rtol {params.rtol} "
            "--runs {params.runs} --out {params.out} > {log} 2>&1 && touch {output.passed} "
            "|| (cat {log} >&2; exit 1)"

    localrules:
        check,
