# The embedded synthetic dataset. COCO is never created by the workflow: its root is checked when the DAG is built.
if DATASET == "synthetic":

    rule synthetic_data:
        """The dataset folder is not an output: Snakemake deletes a job's outputs before rerunning it, so the output
        is a marker next to the folder (the generator's parameters, written once the dataset is complete). A rerun
        with the same parameters reuses the dataset; other parameters are refused when the DAG is built."""
        output:
            marker=synthetic_marker(DATA_ROOT),
        log:
            "results/logs/data/synthetic.log",
        params:
            python=PYTHON,
            root=lambda wildcards, output: os.path.splitext(output.marker)[0],  # the marker is ROOT.ready
            num_train=config["dataset"]["synthetic"]["num_train"],
            num_val=config["dataset"]["synthetic"]["num_val"],
            image_size=config["dataset"]["synthetic"]["image_size"],
            seed=config["dataset"]["synthetic"]["seed"],
        conda:
            "../envs/dynrcnn.yaml"
        shell:
            # The generator wants the folder missing or empty (it fills it atomically) or already holding this
            # dataset (then it does nothing); its own marker inside, copied, becomes the rule's output.
            "({params.python} -m dynrcnn.data.synthetic --out {params.root} --num-train {params.num_train} "
            "--num-val {params.num_val} --image-size {params.image_size} --seed {params.seed} && "
            "cp {params.root}/.complete {output.marker}) > {log} 2>&1"
