"""Fixtures of the tracking tests: a W&B that never touches the network or the home folder (pipeline configs:
``make_config`` of tests/conftest.py)."""

import pytest


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
