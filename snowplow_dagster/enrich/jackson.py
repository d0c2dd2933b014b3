"""Jackson-compatible JSON: how Scala Common Enrich's Jackson-based ``JsonUtils`` read and wrote
JSON, and the error texts it gave.

The first value is read and the rest ignored, floats are printed by ``Double.toString``, and
syntax errors carry Jackson 2.6's message and location, because bad rows are matched on their
texts. Nesting is bounded by ``MAX_JSON_DEPTH`` before anything recursive runs.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from itertools import accumulate
from typing import Any

from snowplow_dagster.enrich.conversions import FieldError, java_double
from snowplow_dagster.enrich.payload import abbreviate

compact_json: Callable[[Any], str] = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":")
).encode
"""Compact JSON with non-ASCII text kept, as Snowplow's Jackson and json4s writers print it."""

MAX_JSON_DEPTH = 1000
"""How deep JSON may nest (``co``, ``cx``, ``ue_pr``, ``ue_px``, request bodies): Jackson's
default ``maxNestingDepth`` since 2.15.

Snowplow's Jackson 2.6 had no limit, and a deep enough document overflowed the JVM's stack. Real
contexts nest a few levels, so 1000 refuses nothing real, and it bounds how deep the recursive
parsers, writers and walkers here (Python's C ``json`` included) ever go."""

_RECURSION_LIMIT = 5 * MAX_JSON_DEPTH
_JSON_WHITESPACE = " \t\n\r"
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.S)
_JSON_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]++|\\.)*+"?|[\[\]{}]', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_NESTING_TOO_DEEP = (
    f"Document nesting depth ({MAX_JSON_DEPTH + 1}) exceeds the maximum allowed "
    f"({MAX_JSON_DEPTH}, from `StreamReadConstraints.getMaxNestingDepth()`)"
)
_LOWER_HEX_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u00([01][0-9a-f])")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_INSTANCE_ID = re.compile(r"@[0-9a-z]+;")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def allow_json_depth() -> None:
    """Raise this process's recursion limit so that JSON ``MAX_JSON_DEPTH`` deep can be parsed,
    written and walked.

    Python counts each level of its C JSON parser and writer against the limit, and its default
    (1000) is below the depth itself. Deeper JSON is refused before it is parsed
    (``json_depth_error``), so recursion stays bounded by the data.
    """
    if sys.getrecursionlimit() < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)


def json_depth_error(text: str, start: int) -> tuple[str, int] | None:
    """Jackson's message, and how far it read, when the JSON value at ``start`` nests deeper
    than ``MAX_JSON_DEPTH``; None otherwise.

    Linear, and only two C-level counts for the usual text, with fewer brackets than the limit.
    Brackets inside strings do not count, and neither do any after the first value.
    """
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return None
    if not text.startswith(("[", "{"), start):  # a scalar first value
        return None
    # Depth after each bracket, in C-level passes; then, only for a bad row, where it went over.
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text[start:]))
    depths = list(accumulate(map(_DEPTH_STEP.__getitem__, brackets)))
    end = depths.index(0) if 0 in depths else len(depths)  # where the first value closes
    if max(depths[:end], default=0) <= MAX_JSON_DEPTH:
        return None
    depth, pointer = 0, len(text)
    for token in _JSON_STRING_OR_BRACKET.finditer(text, start):
        depth += _DEPTH_STEP.get(token[0], 0)
        if depth > MAX_JSON_DEPTH:
            pointer = token.end()
            break
    return _NESTING_TOO_DEEP, pointer


class _NonStandardNumber(ValueError):
    """``NaN``/``Infinity``: Python's json reads them, Jackson refuses them by default."""


class _JacksonJson:
    """Reads and re-writes JSON the way Scala Common Enrich's Jackson-based ``JsonUtils`` did.

    Floats are written by ``Double.toString``, which differs from Python's ``repr`` only below
    1e-3 or from 1e7 up; the float hook notes whether such a value was read, so the common case
    is one C-level ``loads`` and one ``dumps``. That note is instance state: one reader per
    thread (Spark's Python workers are single-threaded).
    """

    def __init__(self) -> None:
        self._unusual_float = False
        self._decoder = json.JSONDecoder(parse_float=self._float, parse_constant=self._non_standard)

    def _float(self, text: str) -> float:
        value = float(text)
        if value and not 1e-3 <= abs(value) < 1e7:
            self._unusual_float = True
        return value

    @staticmethod
    def _non_standard(name: str) -> float:
        raise _NonStandardNumber(name)

    def reformat(self, field: str, text: str) -> tuple[str, Any]:
        """Compact JSON text and the parsed value; ``FieldError`` with Jackson's message."""
        start = len(text) - len(text.lstrip(_JSON_WHITESPACE))
        if start == len(text):  # Jackson reports this one at the token start, (1, 1)
            message = "No content to map due to end-of-input"
            raise FieldError(_invalid_json(field, text, message, (1, 1)))
        too_deep = json_depth_error(text, start)
        if too_deep is not None:
            message, pointer = too_deep
            raise FieldError(_invalid_json(field, text, message, _jackson_location(text, pointer)))
        self._unusual_float = False
        try:
            value, _ = self._decoder.raw_decode(text, start)
        except json.JSONDecodeError as error:
            message, pointer = _jackson_error(text, error)
            location = _jackson_location(text, pointer)
            raise FieldError(_invalid_json(field, text, message, location)) from None
        except _NonStandardNumber as error:
            name = str(error)
            message = (
                f"Non-standard token '{name}': enable JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS"
                " to allow"
            )
            location = _jackson_location(text, max(text.find(name), 0) + len(name))
            raise FieldError(_invalid_json(field, text, message, location)) from None
        except ValueError:  # an integer longer than int() reads (Jackson 2.15 also has a limit)
            limit = sys.get_int_max_str_digits()
            message = f"Number value length exceeds the maximum allowed ({limit} digits)"
            number = re.search(f"(?<![0-9])[0-9]{{{limit + 1}}}", text)  # from a run's start
            location = _jackson_location(text, number.end() if number else start)
            raise FieldError(_invalid_json(field, text, message, location)) from None
        compact = _java_json(value) if self._unusual_float else compact_json(value)
        if "\\u00" in compact:
            compact = _LOWER_HEX_ESCAPE.sub(lambda m: m[1] + "\\u00" + m[2].upper(), compact)
        if "\\u" in text and _SURROGATE.search(compact):
            compact = _SURROGATE.sub("?", compact)  # what Java's UTF-8 encoder writes for them
        return compact, value


reformat_json: Callable[[str, str], tuple[str, Any]] = _JacksonJson().reformat
"""Compact JSON text and the parsed value of a parameter's text; ``FieldError`` with
Jackson's message. One module-level reader: Spark's Python workers are single-threaded."""


def _java_json(value: Any) -> str:
    """Compact JSON with floats as Java's ``Double.toString`` and Jackson's writer print them."""
    if isinstance(value, dict):
        items = (f"{compact_json(key)}:{_java_json(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_java_json(item) for item in value) + "]"
    if isinstance(value, float):
        return java_double(value)
    return compact_json(value)


def _invalid_json(field: str, text: str, message: str, location: tuple[int, int]) -> str:
    """Scala Common Enrich's text: the Jackson message with its location, cleaned as
    ``stripInstanceEtc`` does (control characters dropped, tabs as spaces, trimmed); a long text
    is quoted abbreviated, so that the message still shows what is wrong."""
    line, column = location
    text = abbreviate(text)
    detail = f"{message}\n at [Source: {text}; line: {line}, column: {column}]"
    detail = _CONTROL.sub("", _INSTANCE_ID.sub("@xxxxxx;", detail).replace("\t", "    "))
    return f"Field [{field}]: invalid JSON [{text}] with parsing error: {detail.strip(' ')}"


def _jackson_location(text: str, pointer: int) -> tuple[int, int]:
    """Jackson's (line, column) once it has read ``text[:pointer]``."""
    head = text[:pointer].replace("\r\n", "\n").replace("\r", "\n")
    line_start = head.rfind("\n") + 1
    return head.count("\n") + 1, len(head) - line_start + 1


def _jackson_error(text: str, error: json.JSONDecodeError) -> tuple[str, int]:
    """Jackson 2.6's message for the first syntax error Python's decoder found, and how far
    Jackson had read (the location it reports). Covers the errors trackers actually produce."""
    reason, position, length = error.msg, error.pos, len(text)
    if reason.startswith("Illegal trailing comma"):  # Python 3.13+: report what follows
        position = _skip_whitespace(text, position + 1)
        reason = "Expecting value" if reason.endswith("array") else "Expecting property name"
    if reason.startswith("Unterminated string"):
        return "Unexpected end-of-input: was expecting closing quote for a string value", length
    if position >= length:
        kind, opened = (_open_containers(text, length) or [("ROOT", 0)])[-1]
        return (
            f"Unexpected end-of-input: expected close marker for {kind} (from [Source: {text}; "
            f"line: 1, column: {opened}])",
            length,
        )
    char = text[position]
    if reason.startswith("Invalid \\escape"):
        return (
            f"Unrecognized character escape {_char_description(text[position + 1])}",
            position + 2,
        )
    if reason.startswith("Invalid \\uXXXX"):
        bad = next((i for i in range(position + 2, position + 6) if text[i] not in _HEX), position)
        comment = "expected a hex-digit for character escape sequence"
        return f"Unexpected character ({_char_description(text[bad])}): {comment}", bad + 1
    if reason.startswith("Invalid control character"):
        description = _char_description(char)
        comment = "has to be escaped using backslash to be included in string value"
        return f"Illegal unquoted character ({description}): {comment}", position + 1
    if reason.startswith("Expecting value"):
        if _is_identifier_start(char):
            end = position + 1
            while end < length and end - position < 256 and _is_identifier_part(text[end]):
                end += 1
            expected = (
                "'null', 'true', 'false' or NaN" if char in "tfn" else "('true', 'false' or 'null')"
            )
            return f"Unrecognized token '{text[position:end]}': was expecting {expected}", end
        if char == "-" and position + 1 < length:
            comment = "expected digit (0-9) to follow minus sign, for valid numeric value"
            following = _char_description(text[position + 1])
            return f"Unexpected character ({following}) in numeric value: {comment}", position + 2
        comment = (
            "expected a valid value (number, String, array, object, 'true', 'false' or 'null')"
        )
    elif reason.startswith("Expecting property name"):
        comment = "was expecting double-quote to start field name"
    elif reason.startswith("Expecting ':'"):
        comment = "was expecting a colon to separate field name and value"
    elif reason.startswith("Expecting ','"):
        kind = (_open_containers(text, position) or [("ARRAY", 0)])[-1][0]
        comment = f"was expecting comma to separate {kind} entries"
    else:
        return reason, position + 1
    return f"Unexpected character ({_char_description(char)}): {comment}", position + 1


_HEX = frozenset("0123456789abcdefABCDEF")


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in _JSON_WHITESPACE:
        position += 1
    return position


def _open_containers(text: str, end: int) -> list[tuple[str, int]]:
    """The arrays/objects still open at ``end``: (``ARRAY``/``OBJECT``, column of the bracket)."""
    stack: list[tuple[str, int]] = []
    in_string = escaped = False
    for index in range(end):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(("ARRAY" if char == "[" else "OBJECT", index))
        elif char in "]}" and stack:
            stack.pop()
    return stack


def _char_description(char: str) -> str:
    """Jackson's ``_getCharDesc``."""
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"(CTRL-CHAR, code {code})"
    if code > 255:
        return f"'{char}' (code {code} / 0x{code:x})"
    return f"'{char}' (code {code})"


def _is_identifier_start(char: str) -> bool:
    return char.isidentifier() or char == "$"


def _is_identifier_part(char: str) -> bool:
    return ("a" + char).isidentifier() or char == "$"
