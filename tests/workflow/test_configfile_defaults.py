"""What a --configfile leaves out takes the schema's default, not configs/pipeline/default.yaml's value (the
README's promise): the Snakefile reads default.yaml only when no --configfile is given."""

import re
import shutil


def _train_runtimes(output):
    """The runtime resource of each train job of a dry run."""
    return [
        re.search(r"\bruntime=(\d+)", block.split("resources:")[1]).group(1)
        for block in output.split("rule train:")[1:]
    ]


def test_a_configfile_is_not_layered_over_the_default_file(tmp_path, smk):
    # run as from the repository root: configs/pipeline/default.yaml (train_runtime 30) is in the working directory
    (tmp_path / "configs" / "pipeline").mkdir(parents=True)
    shutil.copy(smk.configs / "default.yaml", tmp_path / "configs" / "pipeline" / "default.yaml")
    only_dla = tmp_path / "only_dla.yaml"
    only_dla.write_text("arms: [dla]\n")
    proc = smk.run(tmp_path, "-n", configfiles=[only_dla], check=True)
    # dla only, with the schema's one seed (default.yaml trains four arms x 4 seeds)
    assert smk.job_counts(proc.stdout)["train"] == 1
    assert _train_runtimes(proc.stdout) == ["60"]  # the schema's resources.train_runtime
    # without --configfile, default.yaml is the config
    proc = smk.run(tmp_path, "-n", check=True)
    assert smk.job_counts(proc.stdout)["train"] == 16 and set(_train_runtimes(proc.stdout)) == {"30"}
