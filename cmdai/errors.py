"""One error hierarchy, one map to exit codes.

Library code raises these; the CLI edge (``cmdai.cli``) prints one line and exits with
``err.exit_code``. Shell scripts rely on the exit codes, so they are a stable contract.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    BLOCKED = 3  # refused by the safety policy
    NO_BACKEND = 4  # no generation backend could answer
    # `cmdai check` reports the level of a command through its exit code.
    LEVEL_MODERATE = 10
    LEVEL_HIGH = 11
    LEVEL_CRITICAL = 12
    CANCELLED = 130


class CmdaiError(Exception):
    """Base of every error cmdai reports to the user.

    ``message`` says what went wrong, ``hint`` how to fix it (one line each).
    """

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(CmdaiError):
    exit_code = ExitCode.USAGE


class ConfigError(CmdaiError):
    exit_code = ExitCode.USAGE


class StoreError(CmdaiError):
    """The history database cannot be opened or is in an unexpected state."""


class HistoryImportError(CmdaiError):
    """An import source is missing or unreadable as a whole."""


class ModelError(CmdaiError):
    """A model file is missing, partial or fails its checksum."""


class NoBackendError(CmdaiError):
    exit_code = ExitCode.NO_BACKEND


class BlockedError(CmdaiError):
    exit_code = ExitCode.BLOCKED


class Cancelled(CmdaiError):
    exit_code = ExitCode.CANCELLED

    def __init__(self, message: str = "cancelled", hint: str | None = None) -> None:
        super().__init__(message, hint)
