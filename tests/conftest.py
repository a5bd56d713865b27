"""Shared fixtures for the simulation tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Tests import small helper modules (simkit, deskkit...) from their folders; with pytest's
# importlib import mode the folders must be put on sys.path explicitly.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from simkit import MINIMAL, SCENARIOS  # noqa: E402


@pytest.fixture
def minimal_toml() -> str:
    """A small valid scenario as TOML text."""
    return MINIMAL


@pytest.fixture
def scenarios_dir() -> Path:
    """The shipped scenarios folder."""
    return SCENARIOS
