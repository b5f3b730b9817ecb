"""The one error type that bad input raises."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A configuration value is not allowed.

    The message is one line that names the field, the value and what is allowed,
    e.g. ``scenario.adapters = -1: must be an integer >= 1``.

    Parameters
    ----------
    field : str
        The dotted config path (or the file, or the command-line flag) at fault.
    value : Any
        The value given.
    allowed : str
        What is allowed instead.
    """

    def __init__(self, field: str, value: Any, allowed: str):
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(self.message())

    def message(self) -> str:
        """The one-line message."""
        return f"{self.field} = {_show(self.value)}: {self.allowed}"

    def in_context(self, context: str) -> ConfigError:
        """The same error with ``context`` (e.g. which sweep job it would have been) appended in parentheses."""
        return self.with_allowed(f"{self.allowed} ({context})")

    def with_allowed(self, allowed: str) -> ConfigError:
        """The same error (same type, field and value) saying ``allowed`` instead."""
        other = _copy(self)
        other.allowed = allowed
        ValueError.__init__(other, other.message())
        return other


class ConfigFileError(ConfigError):
    """A config file cannot be read: the message names the file, the line and the column.

    ``path:line:column: problem``, e.g. ``DIR/scenario/mine.yaml:3:5: YAML syntax error: ...``
    (line and column 1-based, as editors count them).
    """

    def __init__(self, path: str, line: int, column: int, problem: str):
        self.line = line
        self.column = column
        super().__init__(path, f"line {line}, column {column}", problem)

    def message(self) -> str:
        return f"{self.field}:{self.line}:{self.column}: {' '.join(self.allowed.split())}"


def _copy(error: ConfigError) -> ConfigError:
    other = error.__class__.__new__(error.__class__)
    other.__dict__.update(error.__dict__)
    return other


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:117] + "..."
