"""Typed errors of the data layer, which the API and the dashboard turn into 4xx answers or messages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One invalid input: which field, and what is wrong with it."""

    field: str
    message: str


class ValidationError(ValueError):
    """One or more inputs are invalid; nothing was read or written."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        """The error for one bad field."""
        return cls([FieldError(field, message)])


class NotFound(LookupError):
    """The job asked for does not exist."""

    def __init__(self, what: str, ident: object) -> None:
        self.what = what
        self.ident = ident
        super().__init__(f"{what} {ident} does not exist")
