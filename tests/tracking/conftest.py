"""Fixtures of the tracking tests: pipeline configs (as tests/pipeline's ``make_config``) and a W&B that never
touches the network or the home folder."""

from pathlib import Path

import pytest

from dynrcnn.pipeline import load

PIPELINE_CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pipeline"


@pytest.fixture
def make_config(tmp_path, monkeypatch):
    """``make_config(base=None, **overrides)``: ``configs/pipeline/{base}`` with top-level keys replaced; the working
    directory is a scratch folder."""
    monkeypatch.chdir(tmp_path)

    def make(base=None, **overrides):
        config = load(PIPELINE_CONFIGS / base) if base else {}
        config.update(overrides)
        return config

    return make


def _offline_wandb_env(root):
    return dict(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_DIR=str(root / "wandb-dir"),
        WANDB_CACHE_DIR=str(root / "wandb-cache"),
        WANDB_CONFIG_DIR=str(root / "wandb-config"),
        WANDB_DATA_DIR=str(root / "wandb-data"),
        WANDB_API_KEY="",
        NETRC=str(root / "no-netrc"),
    )


@pytest.fixture(scope="module")
def wandb_env(tmp_path_factory):
    """Environment variables that keep W&B offline, quiet, without credentials and inside a scratch folder."""
    return _offline_wandb_env(tmp_path_factory.mktemp("wandb"))


@pytest.fixture
def offline_wandb(wandb_env, monkeypatch):
    """This process's W&B as :func:`wandb_env` says."""
    for key, value in wandb_env.items():
        monkeypatch.setenv(key, value)
    return wandb_env
