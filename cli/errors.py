"""Turning library errors into the CLI's contract: ``Error: ...`` on stderr, exit 1."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import click

from journal.errors import JournalError

__all__ = ["translate_errors", "fail"]

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
            where = f" ({e.filename})" if e.filename else ""
            raise click.ClickException(f"{e.strerror or e}{where}") from e

    return wrapper  # type: ignore[return-value]
