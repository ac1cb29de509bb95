"""Versioned schema migrations, one ordered set of SQL files per backend
(``sqlite/NNNN_name.sql``, ``postgres/NNNN_name.sql``), applied at start inside one
transaction each and recorded in ``schema_version``. Never edit a released file: add the next.

Files are split on ``;`` at line ends, so a statement may not end a line inside a string or a
comment with one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        parts = re.split(r";\s*$", self.sql, flags=re.MULTILINE)
        return [p.strip() for p in parts if _code(p)]


def _code(part: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in part.splitlines())


def load(backend: str) -> list[Migration]:
    """The backend's migrations in version order; versions are 1, 2, 3… without gaps."""
    folder = resources.files(__package__).joinpath(backend)
    found = []
    for entry in folder.iterdir():
        match = _NAME_RE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{backend} migrations are not numbered 1..n: {found!r}")
    return found
