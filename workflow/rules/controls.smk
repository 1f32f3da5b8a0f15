rule static_endpoint:
    """A static-endpoint control's values: the final IoU threshold and beta of the full Dynamic R-CNN run of the same
    seed (its scalars.json), written to the control's endpoint.json, which its training reads."""
    input:
        scalars=endpoint_source,
    output:
        endpoint="results/runs/{family}/baseline/static/seed{seed}/endpoint.json",
    log:
        "results/logs/static_endpoint/{family}/seed{seed}.log",
    conda:
        "../envs/dynrcnn.yaml"
    params:
        python=PYTHON,
        run=endpoint_source_run,
    shell:
        "{params.python} -m dynrcnn.tools.static_endpoint --scalars {input.scalars} --run {params.run} "
        "--out {output.endpoint} > {log} 2>&1"


# a few milliseconds of reading: never a cluster job
localrules:
    static_endpoint,
