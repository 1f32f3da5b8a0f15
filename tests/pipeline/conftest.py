"""Pipeline configs for the tests of dynrcnn.pipeline: a file of configs/pipeline/ with some top-level keys
replaced (as a second --configfile would), planned in a scratch working directory."""

from pathlib import Path

import pytest

from dynrcnn.pipeline import load

PIPELINE_CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pipeline"


@pytest.fixture
def make_config(tmp_path, monkeypatch):
    """``make_config(base=None, **overrides)``: the config of ``configs/pipeline/{base}`` (none: the schema's
    defaults only) with top-level keys replaced; the working directory is a scratch folder."""
    monkeypatch.chdir(tmp_path)

    def make(base=None, **overrides):
        config = load(PIPELINE_CONFIGS / base) if base else {}
        config.update(overrides)
        return config

    return make
