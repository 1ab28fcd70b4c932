"""What a test needs from the machine (PostgreSQL, the compose binary), when it is missing.

`make test` provides both; outside CI a missing one skips with the reason, and under CI
(`CI=true`) it is a failure, so a broken set-up can never pass unnoticed."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)
