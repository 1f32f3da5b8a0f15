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
    # the long jobs first: evaluations fill the cores that trainings leave free
    priority: 10
    conda:
        "../envs/dynrcnn.yaml"
    threads: 1
    resources:
        **PLAN.train_resources(),
    params:
        python=PYTHON,
        work_dir=work_dir,
        run_dir=lambda wildcards, output: run_dir_of(output.manifest),
        data_root=PLAN.data_root,
        dataset=PLAN.dataset,
        cfg_options=cfg_options,
        deterministic=deterministic_flag,
        tracking=tracking_args,
        control=control_flags,
        # torchrun starts one process per GPU (on CPU: processes_per_job): the job's threads are shared out
        processes=PLAN.train_processes,
        threads_per_process=lambda wildcards, threads: max(1, threads // PLAN.train_processes),
    shell:
        # N > 1 GPUs or CPU processes (processes_per_job): one torchrun with N processes (a SLURM job is one srun
        # task; without CUDA the processes train on CPU with gloo). gpu_slots gives the job its GPUs on a local
        # node (CUDA_VISIBLE_DEVICES; left alone when set, as under SLURM, and hidden with gpus_per_job 0)
        # and execs the launch, so the job's process is the training itself (signals, kill and resume). Snakemake
        # empties the log of a job it reruns; each attempt's own mmengine log stays in the work dir
        # ({timestamp}/{timestamp}.log).
        "if [ {params.processes} -gt 1 ]; then "
        "launch='{params.python} -m torch.distributed.run --standalone --nproc-per-node={params.processes}'; "
        "launcher=pytorch; else launch='{params.python}'; launcher=none; fi; "
        "OMP_NUM_THREADS={params.threads_per_process} "
        "{params.python} -m dynrcnn.tools.gpu_slots --gpus {resources.gpu} -- "
        "$launch -m dynrcnn.tools.train {input.config} --work-dir {params.work_dir} "
        "--run-dir {params.run_dir} --seed {wildcards.seed} --data-root {params.data_root} "
        "--dataset {params.dataset} --threads {params.threads_per_process} --launcher $launcher "
        "{params.deterministic} {params.cfg_options} {params.control} {params.tracking} > {log} 2>&1"
