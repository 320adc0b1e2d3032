"""Turning library errors into the CLI's contract: ``Error: ...`` on stderr, exit 1.

With ``--json`` anywhere on the command line an error is one JSON object on stdout
instead, ``{"error": "...", "kind": "..."}``, with the same exit code (`error_json`):
``kind`` is ``usage`` for a usage error (exit 2), else the library error's class in
snake case (``unknown_id``, ``lock_timeout``, ``journal_error``, ``os_error``).
"""

from __future__ import annotations

import errno
import functools
import re
from typing import Any, Callable, TypeVar

import click

from cli.pipe import quiet_stdout
from journal.errors import JournalError

__all__ = ["translate_errors", "fail", "error_kind", "error_json", "quiet_stdout"]

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> click.ClickException:
    """A one-line operational error (exit 1)."""
    return click.ClickException(message)


def translate_errors(func: F) -> F:
    """Wrap a command so journal and OS errors become ``Error: ...`` with exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except JournalError as e:
            raise click.ClickException(str(e)) from e
        except OSError as e:
            if e.errno == errno.EPIPE:  # the reader went away (`| head`): not an error
                quiet_stdout()
                raise click.exceptions.Exit(0) from None
            where = f" ({e.filename})" if e.filename else ""
            raise click.ClickException(f"{e.strerror or e}{where}") from e

    return wrapper  # type: ignore[return-value]


def error_kind(error: click.ClickException) -> str:
    """``usage``, or the snake-case class name of the library error behind *error*."""
    if isinstance(error, click.UsageError):
        return "usage"
    cause = error.__cause__
    name = type(cause).__name__ if cause is not None else "error"
    if name == "OSError" or isinstance(cause, OSError):
        return "os_error"
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def error_json(error: click.ClickException) -> dict[str, str]:
    """The ``--json`` form of *error*."""
    return {"error": error.format_message(), "kind": error_kind(error)}
