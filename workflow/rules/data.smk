# The dataset. The synthetic one is made here; COCO is never created by the workflow: its layout is checked when the
# DAG is built (dynrcnn.pipeline), its annotation files by the check_dataset job that every training waits for.
if PLAN.dataset == "synthetic":

    rule synthetic_data:
        """The dataset folder is not an output: Snakemake deletes a job's outputs before rerunning it, so the output
        is a marker next to the folder (the generator's parameters and the annotation files' SHA-256, written by the
        dataset check once the dataset is complete). A rerun with the same parameters reuses the dataset; other
        parameters are refused when the DAG is built, and an annotation file changed since is checked again."""
        output:
            marker=PLAN.data_inputs[0],
        log:
            "results/logs/data/synthetic.log",
        conda:
            "../envs/dynrcnn.yaml"
        params:
            python=PYTHON,
            root=lambda wildcards, output: os.path.splitext(output.marker)[0],  # the marker is ROOT.ready
            num_train=PLAN.config["dataset"]["synthetic"]["num_train"],
            num_val=PLAN.config["dataset"]["synthetic"]["num_val"],
            image_size=PLAN.config["dataset"]["synthetic"]["image_size"],
            seed=PLAN.config["dataset"]["synthetic"]["seed"],
        shell:
            # The generator wants the folder missing or empty (it fills it atomically) or already holding this
            # dataset (then it does nothing); the dataset check's record (its parameters and the annotation files'
            # SHA-256) becomes the rule's output.
            "({params.python} -m dynrcnn.data.synthetic --out {params.root} --num-train {params.num_train} "
            "--num-val {params.num_val} --image-size {params.image_size} --seed {params.seed} && "
            "{params.python} -m dynrcnn.data.check_dataset --root {params.root} --dataset synthetic "
            "--out {output.marker}) > {log} 2>&1"

else:

    rule check_dataset:
        """COCO's annotation files (hundreds of MB) checked once per version of the files, before any training:
        JSON, the three lists, COCO's 80 categories. The output is written only when they pass."""
        input:
            annotations=PLAN.annotation_files,
        output:
            checked=PLAN.data_inputs[0],
        log:
            "results/logs/data/check_dataset.log",
        conda:
            "../envs/dynrcnn.yaml"
        params:
            python=PYTHON,
            root=PLAN.data_root,
            dataset=PLAN.dataset,
        shell:
            "{params.python} -m dynrcnn.data.check_dataset --root {params.root} --dataset {params.dataset} "
            "--out {output.checked} > {log} 2>&1"
