"""Typed errors. `code` is a stable machine-readable reason (it labels the failure metric); `message` says
what went wrong and how to fix it."""

from __future__ import annotations


class ReconstructionError(Exception):
    """A job failed for a reason that belongs in its state and its report."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class JobCancelled(ReconstructionError):
    def __init__(self) -> None:
        super().__init__("cancelled", "the job was cancelled")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it."""
