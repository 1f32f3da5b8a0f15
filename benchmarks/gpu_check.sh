#!/usr/bin/env bash
# One prepared GPU check: mmcv's CUDA ops build, the RoI head's speed targets, a GPU training, in one short run.
#
# On a Linux machine with an NVIDIA GPU, CUDA's compiler (nvcc) and a CUDA build of torch already installed, and no
# network, from the repository root:
#
#   bash benchmarks/gpu_check.sh [--wheels gpu_wheels] [--out gpu_check_out] [--stage all|build|check]
#
#   1. preflight: the GPU, nvcc, and torch (must be a CUDA build that sees the GPU; else a clear error and exit 1)
#   2. install: the project's other dependencies from the wheel folder (made beforehand, on a machine with PyPI,
#      by scripts/prepare_gpu_wheels.sh), with pip --no-index --no-deps into WORK/site (put first on PYTHONPATH:
#      the machine's own packages stay as they are)
#   3. mmcv: builds mmcv 2.1.0 with its CUDA ops for this GPU's architecture only (TORCH_CUDA_ARCH_LIST from the
#      device, MAX_JOBS = cores) and prints how long it took; a failed build prints the compiler's first error.
#      The wheel is kept in WORK/mmcv-wheel and reused by later runs, and copied to OUT (debug symbols stripped)
#      when it is at most 16 MiB; a failed import of mmcv.ops prints the Python (and cuda-gdb's native) stack
#      (a later machine can then skip the build: --mmcv-wheel FILE)
#   4. stack: tests/test_stack.py and benchmarks/gpu_stack_check.py (mmcv's CUDA ops against the CPU's, a
#      detector's training step on the GPU)
#   5. bench: benchmarks/bench_roi_head.py --device cuda at a realistic size (ResNet-50-FPN, 2 images of 800 px):
#      the ratios to StandardRoIHead (target <= 1.01) and DynamicRoIHead (<= 1.00) with their 95 % intervals, and
#      the host-read counts
#   6. train: the synthetic Dynamic R-CNN arm trained on the GPU through the pipeline's own commands (the train and
#      evaluate rules': dynrcnn.tools.gpu_slots -> dynrcnn.tools.train, then dynrcnn.tools.evaluate) on the
#      default synthetic dataset (generated on one core while mmcv builds) for --train-epochs epochs (an epoch:
#      the train split over configs/synthetic's batch); prints iterations per second and AP50
#
# Everything printed also goes to OUT/summary.txt (appended, one header per run); OUT/results.json holds the figures.
# Budget: about 10 minutes on a 16-core machine; if the build alone is long, split the run in two commands:
#   bash benchmarks/gpu_check.sh --stage build    # preflight, install, mmcv build
#   bash benchmarks/gpu_check.sh --stage check    # the rest, reusing the installed folder and the built wheel
#
# Options:
#   --wheels DIR       wheel folder (default gpu_wheels)          --out DIR     summary, results (gpu_check_out)
#   --work DIR         installs, build, data, training (gpu_check_work)
#   --stage S          all (default), build (steps 1-3) or check (steps 1-6, reusing what build made)
#   --python PY        the Python that holds the CUDA torch (default python3)
#   --jobs N           MAX_JOBS of the build (default: the number of cores)
#   --arch LIST        TORCH_CUDA_ARCH_LIST (default: the GPU's compute capability, e.g. 9.0)
#   --bench-iters N    timed iterations per head (default 100)   --train-epochs N   (default 2)
#   --mmcv-wheel FILE  install this mmcv wheel (built by an earlier run for the same torch and GPU) instead of
#                      building one
#   --deadline S       end within S seconds of the start: steps (the mmcv build too) get shorter time limits or are skipped, so
#                      the summary is always written (e.g. 570 under a 600 s limit)
#   --dry-run          on any machine, no GPU needed: check the wheel folder (complete for its target Python?) and
#                      the repository, print the commands a run would run, exit 0 if all is in place
#   For rehearsing this script on a CPU machine (no CUDA build, small sizes): --device cpu --skip-install --tiny
# shellcheck disable=SC2317 # the step functions are called through step's "$@"
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

WHEELS=gpu_wheels
OUT=gpu_check_out
WORK=gpu_check_work
STAGE=all
PY=python3
DEVICE=cuda
DRY=0
JOBS=
ARCH=
BENCH_ITERS=100
TRAIN_EPOCHS=2
TINY=0
SKIP_INSTALL=0
DEADLINE=0
MMCV_WHEEL=
DATA_PID=
MMCV_VERSION=2.1.0
MMCV_SDIST=mmcv-$MMCV_VERSION.tar.gz

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; /^# shellcheck/d; s/^# \{0,1\}//'; }
need() { [ -n "${2:-}" ] || { echo "gpu_check: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --wheels) need "$1" "${2:-}"; WHEELS=$2; shift ;;
    --out) need "$1" "${2:-}"; OUT=$2; shift ;;
    --work) need "$1" "${2:-}"; WORK=$2; shift ;;
    --stage) need "$1" "${2:-}"; STAGE=$2; shift ;;
    --python) need "$1" "${2:-}"; PY=$2; shift ;;
    --jobs) need "$1" "${2:-}"; JOBS=$2; shift ;;
    --arch) need "$1" "${2:-}"; ARCH=$2; shift ;;
    --bench-iters) need "$1" "${2:-}"; BENCH_ITERS=$2; shift ;;
    --train-epochs) need "$1" "${2:-}"; TRAIN_EPOCHS=$2; shift ;;
    --deadline) need "$1" "${2:-}"; DEADLINE=$2; shift ;;
    --mmcv-wheel) need "$1" "${2:-}"; MMCV_WHEEL=$2; shift ;;
    --device) need "$1" "${2:-}"; DEVICE=$2; shift ;;
    --dry-run) DRY=1 ;;
    --skip-install) SKIP_INSTALL=1 ;;
    --tiny) TINY=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$STAGE" in all | build | check) ;; *) echo "gpu_check: --stage must be all, build or check" >&2; exit 2 ;; esac
case "$DEVICE" in cuda | cpu) ;; *) echo "gpu_check: --device must be cuda or cpu" >&2; exit 2 ;; esac
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$REPO/$1" ;; esac; }
WHEELS=$(abspath "$WHEELS")
OUT=$(abspath "$OUT")
WORK=$(abspath "$WORK")
SITE=$WORK/site

START=$SECONDS
say() { printf '[gpu_check %s +%ss] %s\n' "$(date +%H:%M:%S)" "$((SECONDS - START))" "$*"; }
# Print a command as it would be typed (placeholders like <gpu-arch> quoted), then run it unless --dry-run.
show() {
  local out="  \$" arg
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=,+@%*-]+$ || $arg == '>' ]]; then out+=" $arg"; else out+=" '$arg'"; fi
  done
  printf '%s\n' "$out"
}
run() {
  show "$@"
  [ "$DRY" = 1 ] || "$@"
}

mkdir -p "$OUT"
exec > >(tee -a "$OUT/summary.txt") 2>&1
TEE_PID=$!
echo
say "benchmarks/gpu_check.sh $([ "$DRY" = 1 ] && echo '--dry-run ')stage=$STAGE device=$DEVICE wheels=$WHEELS out=$OUT work=$WORK"
if [ "$DRY" = 1 ]; then
  JOBS=${JOBS:-<cores>}
else
  mkdir -p "$WORK"
  JOBS=${JOBS:-$(nproc)}
fi

declare -A STATUS=()
STEPS=()
FAILED=0
# step NAME FUNCTION: run one step, record its result and seconds; the function returns 0 (passed), 3 (skipped:
# too little time left before --deadline) or anything else (failed).
step() {
  local name=$1 t0=$SECONDS rc=0
  shift
  STEPS+=("$name")
  say "== $name"
  "$@" || rc=$?
  if [ "$rc" = 0 ]; then
    STATUS[$name]="$([ "$DRY" = 1 ] && echo ok || echo PASS) ($((SECONDS - t0)) s)"
  elif [ "$rc" = 3 ]; then
    STATUS[$name]="SKIPPED (deadline)"
    FAILED=1
  else
    STATUS[$name]="FAIL ($((SECONDS - t0)) s)"
    FAILED=1
    say "$name FAILED"
  fi
}
# time_left DEFAULT: seconds a step may run: DEFAULT, or less so that the run ends by --deadline (20 s kept for
# the summary); 0 when too little is left to start it.
time_left() {
  local t=$1 left
  if [ "$DEADLINE" -gt 0 ]; then
    left=$((DEADLINE - (SECONDS - START) - 20))
    [ "$left" -ge "$t" ] || t=$left
    [ "$t" -ge 30 ] || t=0
  fi
  echo "$t"
}
skip_for_deadline() {
  echo "  skipped: $((DEADLINE - (SECONDS - START))) s left before --deadline $DEADLINE"
  return 3
}
finish() {
  [ -z "$DATA_PID" ] || wait "$DATA_PID" 2>/dev/null || true
  say "== summary"
  local name
  for name in "${STEPS[@]}"; do printf '  %-10s %s\n' "$name" "${STATUS[$name]}"; done
  if [ "$DRY" = 1 ]; then
    say "dry run done: $([ "$FAILED" = 0 ] && echo 'all checks passed' || echo 'FAILED (see above)')"
  else
    local status_args=()
    for name in "${STEPS[@]}"; do status_args+=(--status "$name=${STATUS[$name]}"); done
    "$PY" benchmarks/gpu_check_results.py final --out "$OUT/results.json" --work "$WORK" \
      --total-seconds "$((SECONDS - START))" "${status_args[@]}" || FAILED=1
    say "total $((SECONDS - START)) s; summary in $OUT/summary.txt"
  fi
  exec 1>&- 2>&-
  wait "$TEE_PID" 2>/dev/null || true # the summary file is complete when the script returns
  exit "$FAILED"
}

# ------------------------------------------------------------------------------------------------------ preflight
TORCH_TAG="<torch-version>"
do_preflight() {
  if [ "$DRY" = 1 ]; then
    show nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader
    show nvcc --version
    show "$PY" -c '<torch: version, CUDA build, device, compute capability; exit 1 unless torch.cuda.is_available()>'
    return 0
  fi
  echo "  host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 2^20}' /proc/meminfo)"
  local pyver
  pyver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
    || { echo "  ERROR: cannot run $PY (--python)"; return 1; }
  echo "  python: $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
  if [ "$SKIP_INSTALL" = 0 ]; then
    local want
    want=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["target"]["python_version"])' \
      "$WHEELS/manifest.json") || { echo "  ERROR: no wheel folder at $WHEELS (manifest.json)"; return 1; }
    [ "$pyver" = "$want" ] || {
      echo "  ERROR: the wheel folder is for Python $want, this Python ($PY) is $pyver: prepare one with"
      echo "         bash scripts/prepare_gpu_wheels.sh DIR --python-version $pyver"
      return 1
    }
  fi
  if [ "$DEVICE" = cpu ]; then
    echo "  --device cpu: rehearsal without a GPU (no CUDA build; mmcv must already be importable)"
    TORCH_TAG=$("$PY" -c 'import torch; print(torch.__version__)') || return 1
    return 0
  fi
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader | sed 's/^/  gpu: /' \
      || nvidia-smi -L | sed 's/^/  gpu: /'
  else
    echo "  (no nvidia-smi on PATH)"
  fi
  local torch_info rc=0
  torch_info=$("$PY" - <<'PY'
import sys
try:
    import torch
except ImportError as err:
    print(f"ERROR: torch is not installed for {sys.executable} ({err}): install a CUDA build of torch first")
    sys.exit(1)
print(f"torch {torch.__version__}, built with CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
if torch.version.cuda is None:
    print(f"ERROR: torch {torch.__version__} is a CPU build (torch.version.cuda is None): install a CUDA build of "
          "torch first; mmcv's CUDA ops are built against it")
    sys.exit(1)
if not torch.cuda.is_available():
    print("ERROR: torch is a CUDA build but sees no GPU (torch.cuda.is_available() is False): check the driver "
          "(nvidia-smi) and CUDA_VISIBLE_DEVICES")
    sys.exit(1)
major, minor = torch.cuda.get_device_capability(0)
print(f"device {torch.cuda.get_device_name(0)}, compute capability {major}.{minor}, {torch.cuda.device_count()} GPU(s)")
from torch.utils.cpp_extension import CUDA_HOME
print(f"CUDA_HOME {CUDA_HOME}")
print(f"TORCH_TAG {torch.__version__}")
print(f"ARCH {major}.{minor}")
print(f"TORCH_CUDA {torch.version.cuda}")
PY
) || rc=$?
  printf '%s\n' "$torch_info" | grep -v '^\(TORCH_TAG\|ARCH\|TORCH_CUDA\) ' | sed 's/^/  /'
  [ "$rc" = 0 ] || return 1
  TORCH_TAG=$(sed -n 's/^TORCH_TAG //p' <<<"$torch_info")
  [ -n "$ARCH" ] || ARCH=$(sed -n 's/^ARCH //p' <<<"$torch_info")
  local torch_cuda cuda_home nvcc
  torch_cuda=$(sed -n 's/^TORCH_CUDA //p' <<<"$torch_info")
  cuda_home=$(sed -n 's/^CUDA_HOME //p' <<<"$torch_info")
  nvcc=$(command -v nvcc || true)
  [ -n "$nvcc" ] || [ ! -x "$cuda_home/bin/nvcc" ] || nvcc=$cuda_home/bin/nvcc
  if [ -z "$nvcc" ]; then
    echo "  ERROR: CUDA's compiler nvcc is not on PATH (nor in CUDA_HOME=$cuda_home): mmcv's CUDA ops need it"
    return 1
  fi
  local nvcc_version
  nvcc_version=$("$nvcc" --version | sed -n 's/.*release \([0-9][0-9.]*\).*/\1/p')
  echo "  nvcc $nvcc_version ($nvcc)"
  if [ "${nvcc_version%%.*}" != "${torch_cuda%%.*}" ]; then
    echo "  ERROR: nvcc is CUDA $nvcc_version but torch was built with CUDA $torch_cuda: torch refuses to build"
    echo "         extensions across CUDA major versions; put a CUDA $torch_cuda toolkit first on PATH"
    return 1
  fi
  echo "  build: TORCH_CUDA_ARCH_LIST=$ARCH MAX_JOBS=$JOBS"
}

# -------------------------------------------------------------------------------------------------------- install
use_site() {
  if [ "$SKIP_INSTALL" = 1 ]; then
    export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
  else
    # the folder's packages first (numpy < 2, setuptools < 81, mmcv...), then the machine's own
    export PYTHONPATH=$REPO:$SITE${PYTHONPATH:+:$PYTHONPATH}
    export PATH=$SITE/bin:$PATH
  fi
}
do_install() {
  if [ "$SKIP_INSTALL" = 1 ]; then
    echo "  --skip-install: using $PY's own packages"
    return 0
  fi
  # pip resolves every requirement from the folder alone, for the folder's target Python (no network)
  show "$PY" scripts/gpu_wheels.py verify "$WHEELS"
  "$PY" scripts/gpu_wheels.py verify "$WHEELS" || return 1
  local stamp=$SITE/.installed-from manifest_sum
  manifest_sum=$( [ -f "$WHEELS/manifest.json" ] && sha256sum "$WHEELS/manifest.json" | cut -d' ' -f1 || echo none)
  if [ "$DRY" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$manifest_sum" ]; then
    echo "  reusing $SITE (installed from this wheel folder by an earlier run)"
  else
    local pip_install=(env PIP_CONFIG_FILE=/dev/null "$PY" -m pip --isolated --disable-pip-version-check install
      --no-index --no-deps --no-compile --quiet --target "$SITE")
    show "${pip_install[@]}" "$WHEELS/*.whl"
    if [ "$DRY" = 0 ]; then
      rm -rf "$SITE"
      "${pip_install[@]}" "$WHEELS"/*.whl || return 1
      echo "$manifest_sum" >"$stamp"
      local all=("$WHEELS"/*.whl)
      echo "  installed ${#all[@]} wheels into $SITE"
    fi
  fi
  # the packages the folder leaves to this machine must be importable (with the folder's numpy)
  use_site
  run "$PY" scripts/gpu_wheels.py provided "$WHEELS" || return 1
  [ "$DRY" = 1 ] || "$PY" - <<'PY'
from importlib import metadata
import numpy, pkg_resources  # noqa: F401  (pkg_resources: setuptools < 81, needed by mmengine's mmdet:: lookup)
names = ("numpy", "setuptools", "mmengine", "mmdet", "pycocotools", "shapely")
print("  from the folder: " + ", ".join(f"{n} {metadata.version(n)}" for n in names))
PY
}

# ----------------------------------------------------------------------------------------------------------- mmcv
do_mmcv() {
  if [ "$DEVICE" = cpu ]; then
    echo "  --device cpu: no CUDA build; using the installed mmcv"
    "$PY" -c 'import mmcv, mmcv.ops; print("  mmcv", mmcv.__version__, "with compiled ops")' || return 1
    return 0
  fi
  local arch=${ARCH:-<gpu-compute-capability>} key dir log=$WORK/mmcv-build.log
  key=mmcv-$MMCV_VERSION-torch${TORCH_TAG//+/_}-sm${arch//[.;]/_}
  dir=$WORK/mmcv-wheel/$key
  if [ -n "$MMCV_WHEEL" ]; then
    [ -f "$MMCV_WHEEL" ] || { echo "  ERROR: --mmcv-wheel $MMCV_WHEEL does not exist"; return 1; }
    echo "  --mmcv-wheel: installing $MMCV_WHEEL instead of building (it must be built for torch $TORCH_TAG, $arch)"
    [ "$DRY" = 1 ] || echo "given 0" >"$WORK/mmcv-build-status"
  elif [ "$DRY" = 0 ] && ls "$dir"/mmcv-*.whl >/dev/null 2>&1; then
    local built_in
    built_in=$(cat "$dir/build-seconds" 2>/dev/null || echo 0)
    echo "  reusing the wheel an earlier run built (in $built_in s): $(ls "$dir"/mmcv-*.whl)"
    echo "reused $built_in $JOBS $arch" >"$WORK/mmcv-build-status"
  else
    [ "$DRY" = 1 ] || rm -rf "$dir.partial"
    # the build gets what is left before --deadline (without one, an hour): stopped there, the summary is still
    # written, with how far the build got
    local t
    t=$(time_left 3600)
    [ "$t" -gt 0 ] || skip_for_deadline || return
    say "building mmcv $MMCV_VERSION with its CUDA ops (TORCH_CUDA_ARCH_LIST=$arch, MAX_JOBS=$JOBS); log: $log"
    local t0=$SECONDS rc=0
    show env MMCV_WITH_OPS=1 FORCE_CUDA=1 "TORCH_CUDA_ARCH_LIST=$arch" "MAX_JOBS=$JOBS" PIP_CONFIG_FILE=/dev/null \
      "$PY" -m pip --isolated wheel --no-index --no-deps --no-build-isolation -v -w "$dir.partial" \
      "$WHEELS/$MMCV_SDIST"
    [ "$DRY" = 0 ] || return 0
    # timeout ends the whole build (pip, ninja, the compilers: its process group) at the deadline
    timeout "$t" env MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$arch" MAX_JOBS="$JOBS" \
      PIP_CONFIG_FILE=/dev/null "$PY" -m pip --isolated wheel --no-index --no-deps --no-build-isolation -v -w "$dir.partial" \
      "$WHEELS/$MMCV_SDIST" >"$log" 2>&1 &
    local pid=$! last=
    while kill -0 "$pid" 2>/dev/null; do
      sleep 5
      if [ $(((SECONDS - t0) % 60)) -lt 5 ]; then
        last=$(grep -o '\[[0-9]*/[0-9]*\]' "$log" | tail -1 || true)
        say "  building: ${last:-(preparing)} after $((SECONDS - t0)) s"
      fi
    done
    wait "$pid" || rc=$?
    local seconds=$((SECONDS - t0))
    tail -n 300 "$log" >"$OUT/mmcv_build_tail.log"
    if [ "$rc" = 124 ]; then
      last=$(grep -o '\[[0-9]*/[0-9]*\]' "$log" | tail -1 || true)
      echo "  mmcv build STOPPED at the --deadline after $seconds s, at compile step ${last:-(none yet)}; full log" \
        "$log, its end in $OUT/mmcv_build_tail.log"
      echo "stopped $seconds" >"$WORK/mmcv-build-status"
      return 1
    fi
    if [ "$rc" != 0 ] || ! ls "$dir.partial"/mmcv-*.whl >/dev/null 2>&1; then
      echo "  mmcv build FAILED after $seconds s (exit $rc); full log $log, its end in $OUT/mmcv_build_tail.log"
      "$PY" benchmarks/gpu_check_results.py first-error "$log" || true
      echo "failed $seconds" >"$WORK/mmcv-build-status"
      return 1
    fi
    echo "$seconds" >"$dir.partial/build-seconds"
    rm -rf "$dir" && mv "$dir.partial" "$dir"
    echo "built $seconds $JOBS $arch" >"$WORK/mmcv-build-status"
    say "mmcv $MMCV_VERSION built in $seconds s ($((seconds / 60)) min $((seconds % 60)) s; MAX_JOBS=$JOBS," \
      "TORCH_CUDA_ARCH_LIST=$arch)"
    local wheel size
    wheel=$(ls "$dir"/mmcv-*.whl)
    # the extension's debug symbols are most of the wheel (36 MiB -> 6 MiB for one architecture): the copy for OUT
    # goes without them, so that it can come back from a machine that returns files of at most 16 MiB
    local slim=$WORK/mmcv-wheel-slim/$(basename "$wheel")
    if slim_wheel "$wheel" "${slim%/*}" && [ -f "$slim" ]; then wheel=$slim; fi
    size=$(stat -c %s "$wheel")
    if [ "$size" -le $((16 * 1024 * 1024)) ]; then
      cp "$wheel" "$OUT/"
      echo "  the wheel ($((size / 1024)) KiB) is also in $OUT: a later run on a fresh machine with the same torch" \
        "and GPU can skip the build with --mmcv-wheel $(basename "$wheel")"
    else
      echo "  the wheel is $((size / 1024 / 1024)) MiB: not copied to $OUT (over 16 MiB)"
    fi
  fi
  local wheels=("$dir"/mmcv-*.whl)
  [ -z "$MMCV_WHEEL" ] || wheels=("$(abspath "$MMCV_WHEEL")")
  run env PIP_CONFIG_FILE=/dev/null "$PY" -m pip --isolated --disable-pip-version-check install --no-index \
    --no-deps --no-compile --quiet --upgrade --target "$SITE" "${wheels[@]}" || return 1
  [ "$DRY" = 0 ] || return 0
  "$PY" -c '
import os, mmcv, mmcv.ops
from mmcv.ops import get_compiler_version, get_compiling_cuda_version
where = os.path.dirname(os.path.dirname(mmcv.__file__))
print(f"  mmcv {mmcv.__version__} from {where}: ops compiled with CUDA "
      f"{get_compiling_cuda_version()}, {get_compiler_version()}")' && return 0
  # a wheel built on the H200 image once crashed here (README "GPU nodes and conda"): say where
  echo "  importing mmcv.ops FAILED; the Python stack at the failure (python -X faulthandler):"
  "$PY" -X faulthandler -c 'import mmcv.ops' 2>&1 | grep -v 'Warning\|^  ' | tail -n 30 | sed 's/^/    | /' || true
  if command -v cuda-gdb >/dev/null; then
    echo "  and the native one (cuda-gdb):"
    timeout 120 cuda-gdb -q -batch -ex run -ex bt --args "$PY" -c 'import mmcv.ops' 2>&1 \
      | grep -v '^\[New Thread\|^\[Thread\|Warning\|^  ' | tail -n 40 | sed 's/^/    | /' || true
  fi
  return 1
}

# slim_wheel WHEEL DIR: WHEEL rewritten into DIR with its extensions' debug symbols stripped (needs strip and the
# folder's wheel package); nothing is written when either is missing
slim_wheel() {
  command -v strip >/dev/null || return 1
  local tmp
  tmp=$(mktemp -d)
  "$PY" -m wheel unpack -d "$tmp" "$1" >/dev/null \
    && find "$tmp" -name '*.so' -exec strip --strip-debug {} + \
    && mkdir -p "$2" && "$PY" -m wheel pack -d "$2" "$tmp"/*/ >/dev/null
  local rc=$?
  rm -rf "$tmp"
  return "$rc"
}

# ----------------------------------------------------------------------------------------------------------- data
# The pipeline's default synthetic dataset (the generator's defaults, which dataset.synthetic's defaults equal; sizes
# in README "The pipeline"), made on one core while mmcv builds; the generator keeps a complete dataset with the same
# parameters.
DATA=$WORK/data/synthetic
DATA_ARGS=()
if [ "$TINY" = 1 ]; then
  DATA=$WORK/data/tiny
  DATA_ARGS=(--num-train 32 --num-val 8 --image-size 64)
fi
start_data() {
  [ "$DRY" = 0 ] && [ "$STAGE" != check ] || return 0
  say "generating the synthetic dataset in the background: $DATA (log $WORK/data.log)"
  ("$PY" -m dynrcnn.data.synthetic --out "$DATA" "${DATA_ARGS[@]}" >"$WORK/data.log" 2>&1
    echo $? >"$WORK/data.rc") &
  DATA_PID=$!
}
wait_data() {
  if [ -n "$DATA_PID" ]; then
    wait "$DATA_PID" 2>/dev/null || true
    DATA_PID=
    [ "$(cat "$WORK/data.rc" 2>/dev/null)" = 0 ] || {
      echo "  generating the dataset FAILED:"
      tail -n 20 "$WORK/data.log" | sed 's/^/    | /'
      return 1
    }
    show "$PY" -m dynrcnn.data.synthetic --out "$DATA" "${DATA_ARGS[@]}" "(ran while mmcv was built)"
    sed 's/^/  /' "$WORK/data.log" | tail -n 3
  else
    # made here when no earlier step started it (--stage check; the dry run); kept as it is when complete
    run "$PY" -m dynrcnn.data.synthetic --out "$DATA" "${DATA_ARGS[@]}"
  fi
}

# ---------------------------------------------------------------------------------------------------------- stack
do_stack() {
  local rc=0 t
  t=$(time_left 240)
  [ "$t" -gt 0 ] || skip_for_deadline || return
  # -o addopts=: the project's pytest options name pytest-xdist's, which the machine's pytest may lack (one file
  # needs no workers)
  show "$PY" -m pytest -q -p no:cacheprovider -o addopts= tests/test_stack.py
  [ "$DRY" = 1 ] || timeout "$t" "$PY" -m pytest -q -p no:cacheprovider -o addopts= tests/test_stack.py || rc=1
  show "$PY" benchmarks/gpu_stack_check.py --device "$DEVICE"
  [ "$DRY" = 1 ] || timeout "$t" "$PY" benchmarks/gpu_stack_check.py --device "$DEVICE" || rc=1
  return "$rc"
}

# ---------------------------------------------------------------------------------------------------------- bench
do_bench() {
  local size=(--depth 50 --base-channels 64 --image-size 800 --batch-size 2 --iters "$BENCH_ITERS" --warmup 5)
  [ "$TINY" = 0 ] || size=(--depth 18 --base-channels 16 --image-size 256 --batch-size 2 --iters 6 --warmup 2)
  local t
  t=$(time_left 360)
  [ "$t" -gt 0 ] || skip_for_deadline || return
  show "$PY" benchmarks/bench_roi_head.py --device "$DEVICE" "${size[@]}" --interval 5 '>' "$WORK/bench_roi_head.log"
  [ "$DRY" = 0 ] || return 0
  timeout "$t" "$PY" benchmarks/bench_roi_head.py --device "$DEVICE" "${size[@]}" --interval 5 \
    2>&1 | tee "$WORK/bench_roi_head.log"
}

# ---------------------------------------------------------------------------------------------------------- train
do_train() {
  local gpus=1 epochs=$TRAIN_EPOCHS run_dir=$WORK/train/run work_dir=$WORK/train/work t
  [ "$DEVICE" = cuda ] || gpus=0 # as the train rule with gpus_per_job: 0
  [ "$TINY" = 0 ] || epochs=1
  wait_data || return 1
  t=$(time_left 480)
  [ "$t" -gt 0 ] || skip_for_deadline || return
  # a fresh training every time: a work dir holding checkpoints would be resumed (and end at once)
  [ "$DRY" = 1 ] || rm -rf "$WORK/train"
  # the train and evaluate rules' commands (dynrcnn.tools.commands, as the plan builds them) with one GPU; only the
  # schedule is shortened
  local train_cmd eval_cmd
  mapfile -t train_cmd < <("$PY" -m dynrcnn.tools.commands --python "$PY" --gpus "$gpus" --lines train \
    configs/synthetic/dynamic_rcnn.py --work-dir "$work_dir" --run-dir "$run_dir" --seed 0 --data-root "$DATA" \
    --cfg-options "train_cfg.max_epochs=$epochs")
  mapfile -t eval_cmd < <("$PY" -m dynrcnn.tools.commands --python "$PY" --gpus "$gpus" --lines evaluate \
    --run-dir "$run_dir" --family synthetic --arm dynamic_rcnn --variant default --seed 0 \
    --out "$run_dir/metrics.json")
  [ "${#train_cmd[@]}" -gt 0 ] && [ "${#eval_cmd[@]}" -gt 0 ] || {
    echo "  cannot build the commands (python -m dynrcnn.tools.commands failed)"
    return 1
  }
  show "${train_cmd[@]}"
  if [ "$DRY" = 0 ]; then
    timeout "$t" "${train_cmd[@]}" >"$WORK/train.log" 2>&1 || {
      echo "  training FAILED (or stopped after $t s); the end of $WORK/train.log:"
      tail -n 40 "$WORK/train.log" | sed 's/^/    | /'
      return 1
    }
    grep -E 'Epoch\(train\).*\[[0-9]+\]\[ *[0-9]+/[0-9]+\]' "$WORK/train.log" | awk 'NR % 20 == 1' | cut -c1-220 \
      | sed 's/^/  | /' || true
    grep '^\[dynrcnn.tools.train\]' "$WORK/train.log" | sed 's/^/  /' || true
  fi
  show "${eval_cmd[@]}"
  if [ "$DRY" = 0 ]; then
    t=$(time_left 300)
    [ "$t" -gt 0 ] || skip_for_deadline || return
    timeout "$t" "${eval_cmd[@]}" >"$WORK/evaluate.log" 2>&1 || {
      echo "  evaluation FAILED; the end of $WORK/evaluate.log:"
      tail -n 40 "$WORK/evaluate.log" | sed 's/^/    | /'
      return 1
    }
    grep '^\[dynrcnn.tools.evaluate\]' "$WORK/evaluate.log" | sed 's/^/  /' || true
    cp "$run_dir/metrics.json" "$OUT/metrics.json"
  fi
  run "$PY" benchmarks/gpu_check_results.py train "$run_dir"
}

# ---------------------------------------------------------------------------------------------------------- dry run
do_repository() {
  local f missing=0
  for f in benchmarks/bench_roi_head.py benchmarks/gpu_stack_check.py benchmarks/gpu_check_results.py \
    scripts/gpu_wheels.py tests/test_stack.py configs/synthetic/dynamic_rcnn.py dynrcnn/tools/train.py \
    dynrcnn/tools/evaluate.py dynrcnn/tools/gpu_slots.py dynrcnn/data/synthetic.py; do
    [ -f "$f" ] || { echo "  missing $f"; missing=1; }
  done
  [ "$missing" = 0 ] && echo "  the scripts, config and tools the run uses are in place"
  return "$missing"
}

if [ "$DRY" = 1 ]; then
  say "dry run: checks the wheel folder and the repository without a GPU, and prints the commands a run runs"
  echo "  (on the GPU machine, $PY must be the Python the wheel folder is for, with a CUDA build of torch)"
  step repository do_repository
fi
step preflight do_preflight
if [ "$FAILED" = 1 ] && [ "$DRY" = 0 ]; then finish; fi
step install do_install
use_site
if [ "$FAILED" = 1 ] && [ "$DRY" = 0 ]; then finish; fi
start_data
step mmcv do_mmcv
if [ "$FAILED" = 1 ] && [ "$DRY" = 0 ]; then finish; fi
if [ "$STAGE" != build ]; then
  step stack do_stack
  step bench do_bench
  step train do_train
fi
finish
