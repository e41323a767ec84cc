"""Job families: a job's name with its run-specific tail removed, bounded in number.

``etl-orders-1234``, ``etl-orders-5678`` and ``etl-orders-3f9a2c1`` are runs of one family, ``etl-orders``.
The family is worked out once, when the job is created, and stored on the job (``job.family``), so that
lists can filter on it by index and every per-family aggregate can be kept by the write path.

Families are bounded: ``job_family`` holds at most ``FamilyRules.cap`` of them (1,000 by default); a job
whose family would be one more is stored under :data:`OTHER` instead, so per-family aggregates grow with
the number of families, never with the number of jobs. After a change of the pattern, ``jobdash db check
--repair`` works every job's family out again (``db.history.rebuild``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from db.models import job_family_table

# A trailing "-<digits>", "-<UUID>" or "-<hex id>" (7 or more hex digits with at least one digit, so
# that words such as "-deadbeef" are not mistaken for an id... unless they contain a digit).
DEFAULT_PATTERN = (
    r"-(?:[0-9]+|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{7,})$"
)
DEFAULT_CAP = 1000
# The family of every job beyond the cap. A family that really is called "other" shares its counts.
OTHER = "other"
PATTERN_MAX_LENGTH = 1000
# New families are admitted one writer at a time, so that concurrent creates cannot overshoot the cap.
_ADMIT_LOCK = 0x6A6F6264  # "jobd"


@dataclass(frozen=True)
class FamilyRules:
    """How a job name maps to its family (``pattern``) and how many families may exist (``cap``)."""

    pattern: re.Pattern[str]
    cap: int = DEFAULT_CAP

    @classmethod
    def parse(cls, pattern: str | None = None, cap: int = DEFAULT_CAP) -> FamilyRules:
        """Rules from the text of a regular expression; ValueError (one line) when it is unusable."""
        source = DEFAULT_PATTERN if pattern is None or not pattern.strip() else pattern
        if len(source) > PATTERN_MAX_LENGTH:
            raise ValueError(f"must be at most {PATTERN_MAX_LENGTH} characters")
        try:
            compiled = re.compile(source)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression: {exc}") from None
        if not 1 <= cap <= 1_000_000:
            raise ValueError("the family cap must be between 1 and 1000000")
        return cls(compiled, cap)

    def family_of(self, name: str) -> str:
        """The family of a job called ``name``: the ``family`` group of the pattern if it has one, else
        ``name`` with the part the pattern matches removed; ``name`` itself when that leaves nothing."""
        match = self.pattern.search(name)
        if match is None:
            return name
        if "family" in self.pattern.groupindex:
            family = match.group("family") or ""
        else:
            family = name[: match.start()] + name[match.end() :]
        family = family.strip()
        return family or name


DEFAULT_RULES = FamilyRules.parse()


def kept_families(conn: Connection) -> list[str]:
    """Every admitted family."""
    return list(conn.execute(select(job_family_table.c.name)).scalars())


def known(conn: Connection, family: str) -> bool:
    """Whether ``family`` is one of the admitted families."""
    found = conn.execute(select(job_family_table.c.name).where(job_family_table.c.name == family)).first()
    return found is not None


def admit(conn: Connection, family: str, cap: int) -> str:
    """``family`` itself once it is (or has now been made) an admitted family, else :data:`OTHER`.

    Called only for a family not yet known: it waits for any other writer admitting one (a transaction
    lock on PostgreSQL; SQLite writers are serialised anyway), then counts again and adds it if the cap
    allows. The lock is held to the end of the caller's transaction.
    """
    if family == OTHER:
        return OTHER
    count = select(func.count()).select_from(job_family_table)
    if conn.execute(count).scalar_one() >= cap:
        return OTHER  # full: no need to wait for anyone (the table never shrinks but by a repair)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADMIT_LOCK})
    if known(conn, family):
        return family
    if conn.execute(count).scalar_one() >= cap:
        return OTHER
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(job_family_table).values(name=family).on_conflict_do_nothing())
    return family


def resolve(conn: Connection, rules: FamilyRules, name: str) -> str:
    """The family to store for a new job called ``name``: its own, or :data:`OTHER` beyond the cap."""
    family = rules.family_of(name)
    return family if known(conn, family) else admit(conn, family, rules.cap)
