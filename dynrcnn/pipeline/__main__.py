"""``python -m dynrcnn.pipeline FILE...``: check pipeline config files before Snakemake reads them (``make run
CONFIG=...``); see :func:`dynrcnn.pipeline.config.main`."""

from .config import main

raise SystemExit(main())
