"""Command-line entry points used by the Snakemake rules (train, evaluate, detect_epochs)."""
