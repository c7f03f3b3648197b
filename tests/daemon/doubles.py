"""Test doubles for the Ctrl-G tests (configured through the config, like any backend).

``StartedBackend`` is ``tests.doubles.FixedBackend`` that also touches the file named by
$CMDAI_TEST_STARTED when a generation begins, so a test can wait until the backend is really
generating (the client then holds the terminal with signals off) instead of sleeping.
"""

from __future__ import annotations

import os
from pathlib import Path

from cmdai.backends import Completion, Request
from tests.doubles import FixedBackend


class StartedBackend(FixedBackend):
    name = "fixed"

    def complete(self, request: Request) -> Completion:
        marker = os.environ.get("CMDAI_TEST_STARTED")
        if marker:
            Path(marker).touch()
        return super().complete(request)
