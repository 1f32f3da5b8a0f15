rule evaluate:
    """COCOeval of the final checkpoint on the val split: metrics.json (atomic) and the final detections."""
    input:
        manifest="results/runs/{family}/{arm}/{variant}/seed{seed}/train_manifest.json",
        data=data_input,
    output:
        metrics="results/runs/{family}/{arm}/{variant}/seed{seed}/metrics.json",
        detections="results/runs/{family}/{arm}/{variant}/seed{seed}/detections/final.bbox.json",
    log:
        "results/logs/evaluate/{family}/{arm}/{variant}/seed{seed}.log",
    # wall, CPU time, peak RSS and I/O of the job (analysis.compute adds them up)
    benchmark:
        "results/benchmarks/evaluate/{family}/{arm}/{variant}/seed{seed}.tsv"
    conda:
        "../envs/dynrcnn.yaml"
    threads: 1
    resources:
        **PLAN.eval_resources(),
    params:
        python=PYTHON,
        run_dir=lambda wildcards, input: run_dir_of(input.manifest),
        dataset=PLAN.dataset,
    shell:
        # gpu_slots: the evaluation's own GPU on a local node (see the train rule)
        "OMP_NUM_THREADS={threads} {params.python} -m dynrcnn.tools.gpu_slots --gpus {resources.gpu} -- "
        "{params.python} -m dynrcnn.tools.evaluate --run-dir {params.run_dir} "
        "--family {wildcards.family} --arm {wildcards.arm} --variant {wildcards.variant} --seed {wildcards.seed} "
        "--dataset {params.dataset} --threads {threads} --out {output.metrics} > {log} 2>&1"


rule epoch_detections:
    """Each epoch checkpoint's detections (the manifest's epoch_checkpoints) on the first val images, for the
    report's sample figures. The one producer of these files: the folder is built aside and moved in place."""
    input:
        manifest="results/runs/{family}/{arm}/{variant}/seed{seed}/train_manifest.json",
        data=data_input,
    output:
        epochs=directory("results/runs/{family}/{arm}/{variant}/seed{seed}/epoch_detections"),
    log:
        "results/logs/epoch_detections/{family}/{arm}/{variant}/seed{seed}.log",
    # wall, CPU time, peak RSS and I/O of the job (analysis.compute adds them up)
    benchmark:
        "results/benchmarks/epoch_detections/{family}/{arm}/{variant}/seed{seed}.tsv"
    conda:
        "../envs/dynrcnn.yaml"
    threads: 1
    resources:
        **PLAN.eval_resources(),
    params:
        python=PYTHON,
        run_dir=lambda wildcards, input: run_dir_of(input.manifest),
        max_images=max_images_flag,
    shell:
        "OMP_NUM_THREADS={threads} {params.python} -m dynrcnn.tools.gpu_slots --gpus {resources.gpu} -- "
        "{params.python} -m dynrcnn.tools.detect_epochs --run-dir {params.run_dir} --threads {threads} "
        "{params.max_images} --out {output.epochs} > {log} 2>&1"
