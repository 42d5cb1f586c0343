"""Errors for people: every one names the file, the line, the column and what was expected."""

from __future__ import annotations

from pathlib import Path


class IngestError(Exception):
    """A source file that cannot be read at all (not a row-level problem: those go to quarantine)."""

    def __init__(
        self,
        path: str | Path,
        expected: str,
        *,
        line: int | None = None,
        column: str | None = None,
        found: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        self.expected = expected
        self.found = found
        self.hint = hint
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        msg = f"{where}: expected {expected}"
        if found is not None:
            msg += f", found {found!r}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)
