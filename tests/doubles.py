"""Test doubles. They live here, never in the product.

``FixedBackend`` is a generation backend configured through the config like any other
(``generate.backends = ["tests.doubles:FixedBackend"]``, with the repository on PYTHONPATH):
it answers with the text in $CMDAI_TEST_ANSWER after $CMDAI_TEST_DELAY seconds (only for
requests that mention "slow" when $CMDAI_TEST_DELAY_SLOW_ONLY is set), streaming it word by word
and honouring cancellation.
"""

from __future__ import annotations

import os
import time
from typing import Any

from cmdai.backends import Completion, Health, Request
from cmdai.errors import Cancelled


class FixedBackend:
    name = "fixed"

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    def health(self) -> Health:
        return Health(True, "test double")

    def complete(self, request: Request) -> Completion:
        answer = os.environ.get("CMDAI_TEST_ANSWER", "echo hello\n# prints hello")
        delay = float(os.environ.get("CMDAI_TEST_DELAY", "0"))
        if os.environ.get("CMDAI_TEST_DELAY_SLOW_ONLY") and "slow" not in request.user:
            delay = 0
        t0 = time.perf_counter()
        end = time.monotonic() + delay
        while time.monotonic() < end:
            if request.cancel.is_set():
                raise Cancelled("generation cancelled")
            time.sleep(0.02)
        for word in answer.split(" "):
            if request.cancel.is_set():
                raise Cancelled("generation cancelled")
            if request.on_token:
                request.on_token(word + " ")
        return Completion(text=answer, model="fixed", total_ms=(time.perf_counter() - t0) * 1000)
