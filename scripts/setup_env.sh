#!/usr/bin/env bash
# One command from a fresh Debian machine (Python 3.11, package registries only) to the project's environment.
#
#   bash scripts/setup_env.sh            # creates ./.venv (or $VENV) with the pinned stack
#
# The slow part is mmcv 2.1.0: PyPI has it only as source, so its compiled ops are built against the installed
# torch (about 16 minutes on 2 CPU cores). The built wheel is kept in $WHEEL_CACHE (outside the clone, keyed by
# torch version and "cpu" or the CUDA arch list) so a second run on the same machine takes well under 2 minutes.
#
# torch: installed with `pip install "$TORCH_SPEC"` (default torch==2.13.0). TORCH_SPEC is one requirement, passed
# quoted, so it cannot carry pip options such as an index: the build comes from the indexes pip is configured with.
# On Linux, PyPI's torch 2.13.0 is a CUDA build. For the CPU build (or another CUDA build, with a cuXXX index and
# +cuXXX) add PyTorch's index through pip's environment, e.g.
#   PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu TORCH_SPEC=torch==2.13.0+cpu bash scripts/setup_env.sh
#
# GPU nodes: run with FORCE_CUDA=1 and TORCH_CUDA_ARCH_LIST (e.g. "8.0;9.0") and a CUDA build of torch so mmcv's
# ops exist for cuda devices; see README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-$here/.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
MMCV_VERSION=2.1.0
WHEEL_CACHE=${WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dynamic-rcnn-ablation/wheels}

say() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
start=$(date +%s)

command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
py="$VENV/bin/python"
# This workplace's pip config lists local indexes that warn for every package they lack: keep the log readable.
pip() { "$py" -m pip --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither a file nor a dir" >&2); }

say "build tools (setuptools >=77,<81: mmcv's setup.py and mmengine's 'mmdet::' config lookup need pkg_resources)"
pip install -q "pip>=24" "setuptools>=77,<81" wheel ninja

say "torch ($TORCH_SPEC)"
pip install -q "$TORCH_SPEC"

say "pinned Python dependencies (requirements/pinned.txt)"
pip install -q -r requirements/pinned.txt

torch_tag=$("$py" -c 'import torch; print(torch.__version__.replace("+", "_"))')
cuda_tag=$([ "${FORCE_CUDA:-0}" = 1 ] && echo "cuda-${TORCH_CUDA_ARCH_LIST:-default}" | tr ' ;' '__' || echo cpu)
wheel_dir="$WHEEL_CACHE/mmcv-$MMCV_VERSION-torch$torch_tag-$cuda_tag"

if "$py" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$MMCV_VERSION')" 2>/dev/null; then
  say "mmcv $MMCV_VERSION with compiled ops already installed"
else
  if ! ls "$wheel_dir"/mmcv-*.whl >/dev/null 2>&1; then
    say "building mmcv $MMCV_VERSION with its compiled ops from source against torch $torch_tag ($cuda_tag)."
    say "THIS TAKES ABOUT 16 MINUTES ON 2 CPU CORES; the wheel is cached in $wheel_dir for next time."
    mkdir -p "$wheel_dir.partial"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
      pip wheel --no-build-isolation --no-deps -w "$wheel_dir.partial" "mmcv==$MMCV_VERSION"
    rm -rf "$wheel_dir" && mv "$wheel_dir.partial" "$wheel_dir"   # only a finished build is ever reused
  else
    say "reusing cached mmcv wheel from $wheel_dir"
  fi
  pip install -q --no-deps "$wheel_dir"/mmcv-*.whl
fi

say "mmdet 3.3.0 and the project packages (editable)"
pip install -q "mmdet==3.3.0"
pip install -q --no-build-isolation -e ".[dev]"

say "checking the stack"
"$py" - <<'PY'
import mmcv, mmcv.ops, mmdet, mmengine, snakemake, torch
from mmcv.ops import nms, roi_align
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
keep = nms(boxes, torch.tensor([0.9, 0.8]), 0.5)[1]
assert keep.tolist() == [0], keep
print(f"torch {torch.__version__}, mmengine {mmengine.__version__}, mmcv {mmcv.__version__} (ops ok), "
      f"mmdet {mmdet.__version__}, snakemake {snakemake.__version__}")
PY
say "done in $(( $(date +%s) - start )) s. Activate with: source $VENV/bin/activate"
