"""How a config problem is reported: one issue per key, all of them at once, no secret shown."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem, located by key path (``aws.emr.region``) or line (``line 3``)."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(Exception):
    """Every problem found in one input, so a user fixes them all in one pass."""

    def __init__(self, issues: list[ConfigIssue], source: str | None = None) -> None:
        self.issues = tuple(issues)
        self.source = source
        where = f" in {source}" if source else ""
        count = f"{len(self.issues)} error{'s' if len(self.issues) != 1 else ''}"
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"Invalid configuration{where} ({count}):\n{lines}")


_SECRET_NAME = re.compile(
    r"secret|password|passwd|token|key_?id|access_?key|private_?key|api_?key|credential",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a key's value must never be shown (``secret_access_key``, ``fs.s3a.secret.key``)."""
    return bool(_SECRET_NAME.search(name))
