"""Pydantic's errors as ``ConfigIssue``s, and the unknown keys a lenient section ignored."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from snowplow_dagster.config.errors import ConfigIssue, is_secret_name


def _key_path(loc: tuple[str | int, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _describe(value: Any) -> str:
    if isinstance(value, Mapping | list) and value:
        return "a mapping" if isinstance(value, Mapping) else "a list"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _model_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = _fields_by_key(model).get(part)
        model = next(_submodels(field.annotation), None) if field is not None else None
    return model


def _fields_by_key(model: type[BaseModel]) -> dict[str, Any]:
    return {(field.alias or name): field for name, field in model.model_fields.items()}


def _submodels(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _submodels(arg)


def _issues_from(exc: ValidationError, root: type[BaseModel]) -> list[ConfigIssue]:
    """Readable issues from pydantic's errors; an input is echoed only where it cannot be secret."""
    issues = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if error["type"] == "config_rule":
            issues += error["ctx"]["issues"]
            continue
        key = _key_path(loc)
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "extra_forbidden":
            parent = _model_at(root, loc[:-1])
            known = list(_fields_by_key(parent)) if parent is not None else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(known)}"
            message = f"unknown key ({hint})"
        elif error["type"] == "value_error":
            message = error["msg"].removeprefix("Value error, ")
        else:
            message = _pydantic_message(error)
            if not any(is_secret_name(str(part)) for part in loc):
                message += f", got {_describe(error['input'])}"
        issues.append(ConfigIssue(key, message))
    return issues


_COMPARISONS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}


def _pydantic_message(error: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    if error["type"] in _COMPARISONS:
        bound = next(iter(ctx.values()))
        return f"must be {_COMPARISONS[error['type']]} {bound:g}"
    if error["type"] == "too_short" and ctx.get("min_length") == 1:
        return "must be a non-empty list"
    return error["msg"].replace("Input should be", "must be")


def _unknown_keys(model: type[BaseModel], data: Any, path: str = "") -> Iterator[str]:
    """Keys a lenient section ignored (strict sections reject theirs during validation)."""
    if not isinstance(data, Mapping):
        return
    fields = _fields_by_key(model)
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        field = fields.get(key)
        if field is None:
            if model.model_config.get("extra") == "ignore":
                yield key_path
            continue
        for sub in _submodels(field.annotation):
            if isinstance(value, Mapping):
                yield from _unknown_keys(sub, value, key_path)
