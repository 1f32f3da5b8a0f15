"""Write a static-endpoint control's ``endpoint.json``: the IoU threshold and SmoothL1 beta that the full Dynamic
R-CNN run of the same seed ended with, read from its ``scalars.json``.

Usage (what the Snakemake ``static_endpoint`` rule runs)::

    python -m dynrcnn.tools.static_endpoint --scalars results/runs/F/dynamic_rcnn/default/seed0/scalars.json \
        --run dynamic_rcnn/default/seed0 --out results/runs/F/baseline/static/seed0/endpoint.json

The file (format: :func:`dynrcnn.run_record.write_endpoint`) holds the values and the cfg options that fix them;
the control's training takes them with ``python -m dynrcnn.tools.train --cfg-options-file endpoint.json``. Imports
neither torch nor mmdet. A scalar log without the values is one error line naming the file (exit status 1).
"""

import argparse
import sys

from dynrcnn import run_record

PROG = "python -m dynrcnn.tools.static_endpoint"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description="A static-endpoint control's endpoint.json.")
    parser.add_argument("--scalars", required=True, help="the full Dynamic R-CNN run's scalars.json")
    parser.add_argument("--run", required=True, help="that run's name, {arm}/{variant}/seed{seed} (recorded)")
    parser.add_argument("--out", required=True, help="the endpoint file to write (in the control's run folder)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        record = run_record.write_endpoint(args.out, args.scalars, args.run)
    except run_record.RunRecordError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    values = ", ".join(f"{k} {v!r}" for k, v in record["values"].items())
    print(f"[{PROG}] {args.run} ended (iteration {record['step']}) with {values}: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
