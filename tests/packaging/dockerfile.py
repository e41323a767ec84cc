"""A small reader of our Dockerfile: its stages and instructions, enough for tests to check and run them."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


@dataclass
class Stage:
    """One ``FROM`` and the instructions under it."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """The arguments of every instruction ``keyword`` in this stage."""
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        """The arguments of the last instruction ``keyword`` (the one Docker uses for CMD, USER...)."""
        found = self.all(keyword)
        assert found, f"no {keyword} in stage {self.name or self.base}"
        return found[-1]

    def env(self) -> dict[str, str]:
        """Every ``ENV key=value`` of the stage (with ``ARG`` defaults substituted)."""
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                values[key] = value
        return values

    def exec_form(self, keyword: str) -> list[str]:
        """The JSON (exec) form of ``CMD`` or ``ENTRYPOINT``; a shell form fails the test that reads it."""
        args = self.last(keyword)
        if keyword == "HEALTHCHECK":
            args = args.split(" CMD ", 1)[1]
        value = json.loads(args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
        return value


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1].rstrip() + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    """The stages of the Dockerfile at ``path``, in order; global ``ARG`` defaults are substituted."""
    args: dict[str, str] = {}
    result: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        for name, value in args.items():
            rest = rest.replace("${" + name + "}", value).replace("$" + name, value)
        if keyword == "ARG" and not result and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
            continue
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            result.append(Stage(base=parts[0], name=name))
            continue
        assert result, f"{keyword} before the first FROM"
        result[-1].instructions.append((keyword, rest))
    return result
