"""Collect run results and make the report tables and figures (no torch needed)."""
