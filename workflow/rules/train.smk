rule train:
    """One training run: CPU or one GPU in one process, torchrun for N > 1 GPUs; resumes after a kill."""
    input:
        # the shell trains input.config; the files it inherits (configs/{family}/_base_.py) are inputs too, so
        # editing them retrains
        config=train_config,
        bases=train_config_bases,
        data=data_input,
        # a static control's endpoint file (the full run's final values): none for other runs
        control=control_inputs,
        # a finished run whose training request changed: the reason (dynrcnn.pipeline.retrain), else none
        retrain=retrain_input,
    output:
        manifest="results/runs/{family}/{arm}/{variant}/seed{seed}/train_manifest.json",
        scalars="results/runs/{family}/{arm}/{variant}/seed{seed}/scalars.json",
    log:
        "results/logs/train/{family}/{arm}/{variant}/seed{seed}.log",
    # wall, CPU time, peak RSS and I/O of the job (analysis.compute adds them up)
    benchmark:
        "results/benchmarks/train/{family}/{arm}/{variant}/seed{seed}.tsv"
    # the long jobs first: evaluations fill the cores that trainings leave free
    priority: 10
    conda:
        "../envs/dynrcnn.yaml"
    threads: 1
    resources:
        **PLAN.train_resources(),
    params:
        # what the run is: a change retrains it (Snakemake's params rerun trigger); the command renders them
        data_root=PLAN.data_root,
        dataset=PLAN.dataset,
        cfg_options=cfg_options,
        deterministic=deterministic_flag,
        control=control_flags,
        processes=PLAN.train_processes,
        # the command (dynrcnn.tools.commands through the plan); its tracking arguments are not part of the
        # experiment, and a function of the threads is left out of the rerun trigger, so switching tracking on or
        # off retrains nothing (tests/workflow/test_e2e.py checks it)
        command=train_shell,
    shell:
        # Snakemake empties the log of a job it reruns; each attempt's own mmengine log stays in the work dir
        # ({timestamp}/{timestamp}.log).
        "{params.command} > {log} 2>&1"
