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
        dataset=PLAN.dataset,
        # the command (dynrcnn.tools.commands through the plan), with the evaluation's own GPU (gpu_slots)
        command=evaluate_shell,
    shell:
        "{params.command} > {log} 2>&1"


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
        max_images=PLAN.epoch_max_images,
        command=detect_epochs_shell,
    shell:
        "{params.command} > {log} 2>&1"
