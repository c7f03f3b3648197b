"""The log file (loguru). stdout belongs to the shell, so logs go to a file (and to stderr with
--debug). loguru costs ~90 ms to import, so it is imported on the first log call, not at start.
"""

from __future__ import annotations

from typing import Any

_debug = False
_logger: Any = None


def setup(debug: bool = False) -> None:
    global _debug
    _debug = debug


def logger() -> Any:
    global _logger
    if _logger is None:
        import sys

        from loguru import logger as _l

        from cmdai import paths

        _l.remove()
        try:
            paths.ensure_dir(paths.data_dir())
            _l.add(str(paths.log_file()), level="DEBUG" if _debug else "INFO", rotation="5 MB",
                   retention=2)
        except OSError:
            pass
        if _debug:
            _l.add(sys.stderr, level="DEBUG")
        _logger = _l
    return _logger
