"""The ERB that EmrEtlRunner renders ``config.yml`` with, reduced to what configs use."""

from __future__ import annotations

import re
from collections.abc import Mapping

from snowplow_dagster.config.errors import ConfigError, ConfigIssue

_ERB_TAG = re.compile(r"<%.*?%>", re.DOTALL)
_ERB_ENV = re.compile(r"""<%=\s*ENV\[\s*(['"])([^'"]+)\1\s*\]\s*%>""")


def render_erb(text: str, env: Mapping[str, str]) -> str:
    """Render the ERB subset EmrEtlRunner configs use: ``<%= ENV['X'] %>`` (either quote).

    EmrEtlRunner renders the whole file, comments included, so we do too. Every unset variable and
    every other ERB tag is reported with its line; a variable's value is never part of a message.
    """
    issues: list[ConfigIssue] = []

    def substitute(match: re.Match[str]) -> str:
        line_number = text.count("\n", 0, match.start()) + 1
        line = f"line {line_number}"
        env_match = _ERB_ENV.fullmatch(match.group(0))
        if env_match is None:
            issues.append(
                ConfigIssue(line, "unsupported ERB tag; only <%= ENV['NAME'] %> is supported")
            )
            return ""
        name = env_match.group(2)
        if name not in env:
            issues.append(ConfigIssue(line, f"environment variable {name} is not set"))
            return ""
        return env[name]

    rendered = _ERB_TAG.sub(substitute, text)
    if issues:
        raise ConfigError(issues)
    return rendered
