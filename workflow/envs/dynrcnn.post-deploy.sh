#!/usr/bin/env bash
# Run by `snakemake --sdm conda` inside the freshly created dynrcnn environment. mmcv 2.1.0 exists on PyPI only as
# source and its setup.py needs the installed torch, so it is built without build isolation (as scripts/setup_env.sh
# does); FORCE_CUDA=1 and TORCH_CUDA_ARCH_LIST from the caller's environment give it CUDA ops.
set -euo pipefail
pip install --no-build-isolation "mmcv==2.1.0"
# fail here, not in the first training, when the compiled ops are missing
python -c "from mmcv.ops import nms, RoIAlign"
