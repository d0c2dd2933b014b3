"""YAML parsing that refuses duplicate keys and never quotes the offending line back."""

from __future__ import annotations

from typing import Any

import yaml

from snowplow_dagster.config.errors import ConfigError, ConfigIssue


class _UniqueKeyLoader(yaml.SafeLoader):
    """Psych and PyYAML keep the last of two equal keys; a duplicate is almost always a mistake."""

    duplicates: list[ConfigIssue]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                line = key_node.start_mark.line + 1
                self.duplicates.append(ConfigIssue(f"line {line}", f"duplicate key {key!r}"))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str) -> Any:
    loader = _UniqueKeyLoader(text)
    loader.duplicates = []
    problem = None
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        problem = _yaml_issue(exc)
    finally:
        loader.dispose()
    if problem is not None:
        # Raised outside the handler, so no __context__ carries PyYAML's error along.
        raise ConfigError([problem])
    if loader.duplicates:
        raise ConfigError(loader.duplicates)
    return data


def _yaml_issue(exc: yaml.YAMLError) -> ConfigIssue:
    """Position and problem only: PyYAML's own message quotes the line, maybe a rendered secret."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return ConfigIssue("YAML", "invalid YAML")
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
    return ConfigIssue(where, f"invalid YAML: {exc.problem or exc.context}")
