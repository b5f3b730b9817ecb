"""Shared fixtures."""

from __future__ import annotations

import pytest

from tests.scenarios import ENGINES


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    """Run a test on the fast engine and on the SimPy reference."""
    return request.param
