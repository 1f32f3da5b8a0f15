rule evaluate:
    """COCOeval of the final checkpoint on the val split: metrics.json (atomic), final and per-epoch detections."""
    input:
        manifest="results/runs/{family}/{arm}/{variant}/seed{seed}/train_manifest.json",
        data=data_input,
    output:
        metrics="results/runs/{family}/{arm}/{variant}/seed{seed}/metrics.json",
        detections="results/runs/{family}/{arm}/{variant}/seed{seed}/detections/final.bbox.json",
    log:
        "results/logs/evaluate/{family}/{arm}/{variant}/seed{seed}.log",
    params:
        python=PYTHON,
        run_dir=lambda wildcards, input: os.path.dirname(input.manifest),
        dataset=DATASET,
        epochs=epoch_detection_flags,
    threads: 1
    resources:
        **eval_resources(),
    conda:
        "../envs/dynrcnn.yaml"
    shell:
        # gpu_slots: the evaluation's own GPU on a local node (see the train rule)
        "OMP_NUM_THREADS={threads} {params.python} -m dynrcnn.tools.gpu_slots --gpus {resources.gpu} -- "
        "{params.python} -m dynrcnn.tools.evaluate --run-dir {params.run_dir} "
        "--family {wildcards.family} --arm {wildcards.arm} --variant {wildcards.variant} --seed {wildcards.seed} "
        "--dataset {params.dataset} --threads {threads} {params.epochs} --out {output.metrics} > {log} 2>&1"


rule collect_metrics:
    """Every run's metrics.json of the family in one table (CSV and Markdown)."""
    input:
        metrics=all_metrics(),
    output:
        csv="results/collected/{family}/metrics.csv",
        md="results/collected/{family}/metrics.md",
    log:
        "results/logs/collect/{family}.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/collect_metrics.py"
