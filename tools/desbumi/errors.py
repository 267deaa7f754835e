"""The project's exception tree; the CLI turns each branch into a message and an exit code.

    DesbumiError
    ├── InputError        bad input or usage: a missing file, a malformed spreadsheet (exit 2)
    │   └── ConfigError   desbumi.toml or DESBUMI_* is wrong (exit 2)
    ├── CheckFailed       the command ran and found problems (exit 1)
    └── ServerError       the Kobo server could not be reached or said no (exit 3)
        ├── TransportError  no answer: connection refused, reset, timed out
        └── RefusedError    an answer that says no (4xx/5xx), with status attached
"""

from __future__ import annotations


class DesbumiError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class InputError(DesbumiError):
    """Something the user gave us (a file, an argument) cannot be used."""

    exit_code = 2


class ConfigError(InputError):
    """The configuration (desbumi.toml, DESBUMI_* variables, flags) is invalid."""


class CheckFailed(DesbumiError):
    """A check ran to the end and found problems the user must fix."""

    exit_code = 1


class ServerError(DesbumiError):
    """The Kobo server was unreachable or refused the request."""

    exit_code = 3


class TransportError(ServerError):
    """No usable answer came back (connection refused, reset, timeout)."""


class RefusedError(ServerError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status
