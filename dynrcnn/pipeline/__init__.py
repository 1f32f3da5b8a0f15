"""The pipeline's planning, outside Snakemake: the config (:mod:`.config`), its dataset root (:mod:`.data`) and
its runs and their files (:mod:`.plan`). The Snakefile builds the plan once; the rules' input functions look it up.

Imports neither torch nor mmdet: the workflow uses it while it builds the DAG.

    from dynrcnn.pipeline import build, load
    plan = build(load("configs/pipeline/default.yaml"))
    plan.runs  # [Run(arm='baseline', variant='default', seed=0), ...]
"""

from .config import PipelineConfigError, load, validate
from .plan import Plan, Run, build

__all__ = ["PipelineConfigError", "Plan", "Run", "build", "load", "validate"]
