#!/usr/bin/env bash
# Prepare, on a machine that reaches PyPI, the wheel folder benchmarks/gpu_check.sh installs from on a GPU machine
# with no network: binary wheels of the pinned stack for the GPU machine's Python and platform, mmcv 2.1.0's source
# archive, and manifest.json (what was fetched, for which target; the dry run checks the folder against it).
#
#   bash scripts/prepare_gpu_wheels.sh DIR [--python-version 3.12] [--profile full|check] [--provided FILE]
#                                          [--glibc 2.28] [--force]
#
#   DIR               the folder to fill (must be empty, or --force)
#   --python-version  the GPU machine's Python (default 3.12)
#   --profile         full: every pin of requirements/pinned.txt (about 185 MiB for Python 3.12);
#                     check: only the pins the GPU check imports
#   --provided FILE   packages the GPU machine already holds, left out (scripts/gpu_provided_cuda_image.txt: the
#                     lent H200 image; with --profile check, which also leaves out numpy's and scipy's own test
#                     suites, the folder is about 55 MiB)
#   --glibc 2.N       newest manylinux glibc the GPU machine accepts (default 2.28)
#
# torch is never downloaded: the GPU machine's CUDA build is used. pip evaluates environment markers for the Python
# that runs it, so this script uses python<version> (e.g. python3.12) when there is one; set PYTHON to choose.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
version=3.12
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --python-version) version=${args[i + 1]:-3.12} ;;
    --python-version=*) version=${args[i]#*=} ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  esac
done
if [ -z "${PYTHON:-}" ]; then
  # a pyenv-installed python<version> that is not on PATH counts too
  pyenv_python=
  for candidate in "$(pyenv root 2>/dev/null || echo /nonexistent)/versions/$version".*/bin/"python$version"; do
    [ ! -x "$candidate" ] || pyenv_python=$candidate
  done
  if "python$version" -c 'import sys' >/dev/null 2>&1; then
    PYTHON=python$version
  elif [ -n "$pyenv_python" ]; then
    PYTHON=$pyenv_python
  else
    PYTHON=python3
    echo "[prepare_gpu_wheels] no python$version here: using $PYTHON; environment markers are evaluated for it" >&2
  fi
fi
exec "$PYTHON" "$here/scripts/gpu_wheels.py" prepare "$@"
