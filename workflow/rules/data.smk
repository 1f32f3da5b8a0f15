# The embedded synthetic dataset. COCO is never created by the workflow: its root is checked when the DAG is built.
if DATASET == "synthetic":

    rule synthetic_data:
        output:
            marker=f"{DATA_ROOT}/.complete",
        log:
            "results/logs/data/synthetic.log",
        params:
            python=PYTHON,
            root=lambda wildcards, output: os.path.dirname(output.marker),
            num_train=config["dataset"]["synthetic"]["num_train"],
            num_val=config["dataset"]["synthetic"]["num_val"],
            image_size=config["dataset"]["synthetic"]["image_size"],
            seed=config["dataset"]["synthetic"]["seed"],
        conda:
            "../envs/dynrcnn.yaml"
        shell:
            # Snakemake makes the output's folder; the generator wants it missing or empty and fills it atomically.
            "{params.python} -m dynrcnn.data.synthetic --out {params.root} --num-train {params.num_train} "
            "--num-val {params.num_val} --image-size {params.image_size} --seed {params.seed} > {log} 2>&1"
