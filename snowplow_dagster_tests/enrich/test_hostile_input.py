"""Hostile input: every line is accounted for, no line stalls a batch, every bad row is readable.

The corpus is files' bytes, split into lines as Hadoop's LineRecordReader does (``\\n``, ``\\r``,
``\\r\\n``; UTF-8 with replacement). Every case goes through the per-line core, in-process; a
representative subset of each input format goes through the real Spark job, whose counts must be
the core's.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from snowplow_dagster.enrich.badrow import MAX_MESSAGE_LENGTH
from snowplow_dagster.enrich.enricher import DEFAULT_MAX_LINE_LENGTH, Enricher, LineResult
from snowplow_dagster.enrich.enrichments.registry import load_enrichments_directory
from snowplow_dagster.enrich.fields import FIELD_INDEX
from snowplow_dagster.enrich.jackson import MAX_JSON_DEPTH
from snowplow_dagster.enrich.job import (
    SLOW_LINE_START,
    SLOWEST_LINES_SHOWN,
    InputReadError,
    UsageError,
    parse_args,
    run_job,
)
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS
from snowplow_dagster_tests.enrich.test_job import ETL_TIMESTAMP_MS, job_args, output_lines

MiB = 1 << 20
TOO_DEEP = (
    f"Document nesting depth ({MAX_JSON_DEPTH + 1}) exceeds the maximum allowed "
    f"({MAX_JSON_DEPTH}, from `StreamReadConstraints.getMaxNestingDepth()`)"
)
OVER_LIMIT = f"longer than the limit of {DEFAULT_MAX_LINE_LENGTH} (--max-line-length)"

CF, CLJ = "cloudfront", "clj-tomcat"
WD = "tsv/com.amazon.aws.cloudfront/wd_access_log"
ND = "ndjson/com.snowplowanalytics.snowplow/tp2"
FORMATS = (CF, CLJ, WD, ND)


def enrichments() -> dict:
    """The bundled sample enrichments plus PII on a JSON path, so deep contexts are walked too."""
    wrapper = load_enrichments_directory(SAMPLE_ENRICHMENTS)
    pii = {
        "pii": [
            {"pojo": {"field": "user_id"}},
            {
                "json": {
                    "field": "contexts",
                    "schemaCriterion": "iglu:com.acme/deep/jsonschema/1-*-*",
                    "jsonPath": "$.a",
                }
            },
        ],
        "strategy": {"pseudonymize": {"hashFunction": "SHA-256", "salt": "pepper"}},
    }
    vendor = "com.snowplowanalytics.snowplow.enrichments"
    wrapper["data"].append(
        {
            "schema": f"iglu:{vendor}/pii_enrichment_config/jsonschema/2-0-0",
            "data": {
                "vendor": vendor,
                "name": "pii_enrichment_config",
                "enabled": True,
                "parameters": pii,
            },
        }
    )
    return wrapper


ENRICHMENTS = enrichments()


# --- building hostile lines ---------------------------------------------------------------------


def nested(depth: int, inner: str = "1") -> str:
    """JSON text of ``{"a":{"a":...inner}}``, ``depth`` objects deep (text: the test's own
    ``json`` would hit Python's recursion limit)."""
    return '{"a":' * depth + inner + "}" * depth


def contexts(depth: int) -> str:
    """A contexts document ``depth`` levels deep; PII hashes its entity's ``a``."""
    data = '{"a":"secret","b":' + nested(depth - 4, '"x"') + "}"
    entity = '{"schema":"iglu:com.acme/deep/jsonschema/1-0-0","data":' + data + "}"
    schema = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
    return f'{{"schema":"{schema}","data":[{entity}]}}'


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


PAGE_VIEW = "e=pv&p=web&tv=js-2.0&page=Home&url=http%3A%2F%2Fwww.example.com%2Fa%3Fb%3Dc"
CF_FIELDS = (
    "2013-10-07", "21:32:10", "SFO5", "480", "255.255.255.255", "GET",
    "d3v6ndkyapxc2w.cloudfront.net", "/i", "200", "http://www.psychicbazaar.com/",
    "Mozilla/5.0%20(Windows%20NT%206.1)", PAGE_VIEW,
)  # fmt: skip
CF_23 = (
    "-", "Hit", "Kd5S8JmYmPQ==", "d3v6ndkyapxc2w.cloudfront.net", "http", "480", "0.001",
    "2001:db8::1, 1.2.3.4", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "Hit",
)  # fmt: skip
CF_NAMES = {"date": 0, "time": 1, "ip": 4, "method": 5, "path": 7, "useragent": 10, "qs": 11}


def cf(*, extra: Sequence[str] = (), sep: str = "\t", **fields: str) -> str:
    values = list(CF_FIELDS) + list(extra)
    for name, value in fields.items():
        values[CF_NAMES[name]] = value
    return sep.join(values)


def cf_qs(params: str) -> str:
    return cf(qs=f"{PAGE_VIEW}&{params}")


CLJ_GET = (
    "2013-10-07", "21:32:10", "-", "-", "37.157.33.123", "GET", "37.157.33.123", "/i", "200",
    "http://www.example.com/", "Mozilla%2F5.0", PAGE_VIEW,
)  # fmt: skip


def payload_data(*events: dict, extra: str | None = None) -> str:
    """A TP2 body; ``extra`` (JSON text) makes it one level deeper than itself."""
    schema = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
    body = json.dumps({"schema": schema, "data": list(events)})
    return body if extra is None else f'{body[:-1]},"extra":{extra}}}'


PV_EVENT = {"e": "pv", "p": "web", "tv": "js-2.0", "url": "http://www.example.com/"}


def clj_post(body: str, content_type: str = "application%2Fjson") -> str:
    fields = list(CLJ_GET)
    fields[5], fields[7], fields[11] = "POST", "/com.snowplowanalytics.snowplow/tp2", "cv=clj-1.1.0"
    return "\t".join([*fields, "-", "-", "-", content_type, body])


WD_FIELDS = (
    "2013-10-07", "21:32:10", "SFO5", "480", "255.255.255.255", "GET",
    "d3v6ndkyapxc2w.cloudfront.net", "/index.html", "200", "http://www.example.com/",
    "Mozilla/5.0", "a=b", "-", "Hit", "Kd5S8JmYmPQ==", "d3v6ndkyapxc2w.cloudfront.net", "https",
    "480", "0.001", "-", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "Hit", "HTTP/2.0", "-", "-",
)  # fmt: skip


def wd(**replace: str) -> str:
    values = list(WD_FIELDS)
    for index, value in replace.items():
        values[int(index.removeprefix("f"))] = value
    return "\t".join(values)


HEADERS = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method\n"


@dataclass(frozen=True)
class Case:
    name: str
    input_format: str
    data: bytes
    spark: bool = False
    """In the subset that also runs through the Spark job."""
    good: int | None = None
    skipped: int | None = None
    message: str | None = None
    """Text one of the bad rows must carry."""
    gzip: bool = False
    """Compressed when written for the Spark job."""


def text(*lines: str, end: str = "\n") -> bytes:
    return "".join(line + end for line in lines).encode()


def binary(seed: int, size: int = 8192) -> bytes:
    return random.Random(seed).randbytes(size)


CORPUS = [
    # -- CloudFront collector logs --
    Case("cf-valid", CF, text(cf()), spark=True, good=1),
    Case("cf-empty-file", CF, b"", spark=True),
    Case("cf-blank-lines", CF, b"\n\n\n", spark=True, message="Line does not match CloudFront"),
    Case("cf-header-only", CF, HEADERS.encode(), spark=True, skipped=2),
    Case("cf-crlf", CF, text(cf(), cf(), end="\r\n"), spark=True, good=2, gzip=True),
    Case("cf-cr-only", CF, text(cf(), cf(), end="\r"), spark=True, good=2),
    Case("cf-no-final-newline", CF, cf().encode(), spark=True, good=1),
    Case(
        "cf-bom", CF, b"\xef\xbb\xbf" + text("#Version: 1.0", cf()), spark=True, skipped=1, good=1
    ),
    Case("cf-nul-in-field", CF, text(cf(useragent="Moz\x00illa\x00")), spark=True, good=1),
    Case("cf-nul-line", CF, b"\x00" * 300 + b"\n", spark=True, message="does not match"),
    Case("cf-binary", CF, binary(1), spark=True),
    Case("cf-binary-gzip", CF, binary(2), spark=True, gzip=True),
    Case(
        "cf-invalid-utf8",
        CF,
        cf(useragent="Mozilla@").encode().replace(b"@", b"\xff\xfe\xc3\x28\xed\xa0\x80") + b"\n",
        spark=True,
        good=1,
    ),
    Case("cf-spaces-1mb", CF, text(cf() + " " * MiB + "x"), spark=True, message="does not match"),
    Case(
        "cf-empty-cookie-run-1mb",
        CF,
        text(cf(sep=" ") + " " * MiB + "Hit Kd5S8JmYmPQ=="),
        good=1,
    ),
    Case(
        "cf-digits-1mb",
        CF,
        text(cf_qs("e=tr&tr_id=1&tr_tt=" + "1" * MiB + "x")),
        spark=True,
        message="Field [tr_tt]: cannot convert [111",
    ),
    Case(
        "cf-over-limit",
        CF,
        text(cf_qs("page=" + "x" * DEFAULT_MAX_LINE_LENGTH)),
        spark=True,
        message=OVER_LIMIT,
    ),
    Case("cf-huge-querystring", CF, text(cf_qs("a=b&" * (MiB // 4))), good=1),
    Case("cf-huge-param", CF, text(cf_qs("se_la=" + "x" * MiB)), good=1),
    Case(
        "cf-deep-ue-pr",
        CF,
        text(cf_qs("e=ue&ue_pr=" + "[" * 2000 + "]" * 2000)),
        spark=True,
        message=TOO_DEEP,
    ),
    Case(
        "cf-deep-cx", CF, text(cf_qs("cx=" + b64(contexts(MAX_JSON_DEPTH + 1)))), message=TOO_DEEP
    ),
    Case(
        "cf-cx-at-depth-limit",
        CF,
        text(cf_qs("cx=" + b64(contexts(MAX_JSON_DEPTH)))),
        spark=True,
        good=1,
    ),
    Case(
        "cf-deep-unusual-floats",  # written by the Double.toString path, one call per level
        CF,
        text(cf_qs("co=" + quote(contexts(MAX_JSON_DEPTH - 1).replace('"x"', "[1e-9,1e300]")))),
        good=1,
    ),
    Case(
        "cf-deep-not-self-describing",  # the message shows the start of the value
        CF,
        text(cf_qs("e=ue&ue_pr=" + quote(nested(MAX_JSON_DEPTH)))),
        message="JSON instance is not self-describing",
    ),
    Case(
        "cf-open-brackets-1mb",
        CF,
        text(cf_qs("co=" + "%7B%22a%22:" * (MiB // 12))),
        message=TOO_DEEP,
    ),
    Case(
        "cf-huge-json-integer",
        CF,
        text(cf_qs("co=" + quote('{"n":' + "9" * 10_000 + "}"))),
        message="Number value length exceeds the maximum allowed",
    ),
    Case(
        "cf-overflowing-numbers",
        CF,
        text(
            cf_qs(
                "e=tr&tr_tt=1E99999999999999999999&tr_tx=1e2147483648&tr_sh=-"
                + "9" * 5000
                + "&ti_qu=99999999999&vid=2147483648&tid=99999999999999999999&pp_mix=-2147483649"
                + "&res="
                + "1" * 5000
                + "x1&vp=00000000000000000000000000001x1"
            )
        ),
        spark=True,
        message="Field [res]: view dimensions [",
    ),
    Case(
        "cf-overflowing-timestamps",
        CF,
        text(cf_qs("dtm=99999999999999999999&stm=253402300800000&ttm=-62135596800001")),
        spark=True,
        message="Field [stm]: [253402300800000] is formatted as [10000-01-01",
    ),
    Case(
        "cf-impossible-log-timestamps",
        CF,
        text(
            cf(date="292278994-01-01"),
            cf(time="25:61:61"),
            cf(date="2013-02-29"),
            cf(date="9" * MiB),
        ),
        message="Unexpected exception converting date [292278994-01-01]",
    ),
    Case("cf-ipv6", CF, text(cf(ip="2001:db8::ff00:42:8329")), spark=True, good=1),
    Case(
        "cf-invalid-ips",
        CF,
        text(cf(ip="999.999.999.999"), cf(ip="::::::"), cf_qs("ip=not-an-ip%2C%201.2.3.4")),
        good=3,
    ),
    Case(
        "cf-forwarded-for-ipv6-and-garbage",
        CF,
        text(cf(extra=CF_23), cf(extra=(*CF_23[:7], '"[zz', *CF_23[8:]))),
        spark=True,
        good=2,
    ),
    Case(
        "cf-tab-in-field",
        CF,
        text(cf(useragent="Mozilla\t5.0")),
        spark=True,
        message="Line does not match CloudFront",
    ),
    Case("cf-encoded-controls", CF, text(cf_qs("se_la=%09%0A%0D%00&ua=a%09b%0Ac")), good=1),
    Case("cf-truncated-line", CF, text("\t".join(CF_FIELDS[:5])), message="does not match"),
    Case("cf-too-many-fields", CF, text("\t".join(["x"] * 100)), spark=True),
    Case("cf-leading-whitespace", CF, text(" " + cf()), message="does not match"),
    Case(
        "cf-malformed-escapes",
        CF,
        text(cf_qs("page=%zz&x=%"), cf(useragent="%E0%A4%A"), cf(qs="e=pv&p=web&url=%")),
        message="Malformed escape pair",
    ),
    Case(
        "cf-unicode-separators",
        CF,
        text(cf_qs("se_la=a\u2028b\x85c\u2029\U0001f600"), cf(useragent="a\x85b")),
        good=1,
        message="Illegal character in query",
    ),
    Case(
        "cf-url-with-long-host-and-path",
        CF,
        text(cf_qs("url=http%3A%2F%2F" + "a." * (MiB // 8) + "com%2F" + "p" * (MiB // 2) + "%3C")),
    ),
    Case("cf-post", CF, text(cf(method="POST")), message="Only GET operations supported"),
    # -- Clojure collector (Tomcat) logs --
    Case("clj-valid-get", CLJ, text("\t".join(CLJ_GET)), spark=True, good=1),
    Case("clj-valid-post", CLJ, text(clj_post(b64(payload_data(PV_EVENT)))), spark=True, good=1),
    Case("clj-empty-file", CLJ, b"", spark=True),
    Case("clj-header-only", CLJ, HEADERS.encode(), spark=True, message="Clojure Collector"),
    Case("clj-crlf", CLJ, text("\t".join(CLJ_GET), end="\r\n"), spark=True, good=1, gzip=True),
    Case("clj-binary", CLJ, binary(3), spark=True),
    Case("clj-nul-bytes", CLJ, text("\t".join(CLJ_GET) + "\x00\x00"), spark=True),
    Case(
        "clj-invalid-utf8",
        CLJ,
        "\t".join(CLJ_GET).encode().replace(b"Mozilla", b"Moz\xc0\xafilla\xff") + b"\n",
        spark=True,
        good=1,
    ),
    Case(
        "clj-spaces-1mb",
        CLJ,
        text(" ".join(CLJ_GET) + " " * MiB + "x"),
        spark=True,
        message="Operation must be POST, not GET",
    ),
    Case(
        "clj-deep-body",
        CLJ,
        text(clj_post(b64(payload_data(PV_EVENT, extra=nested(5000))))),
        spark=True,
        message="Field [Body]: invalid JSON [",
    ),
    Case(
        "clj-body-at-depth-limit",
        CLJ,
        text(clj_post(b64(payload_data(PV_EVENT, extra=nested(MAX_JSON_DEPTH - 1))))),
        spark=True,
        good=1,
    ),
    Case(
        "clj-garbage-bodies",
        CLJ,
        text(clj_post("!!!!"), clj_post("A" * MiB), clj_post(b64("\x00\xff"))),
        message="Field [Body]: invalid JSON",
    ),
    Case(
        "clj-content-type-without-body",
        CLJ,
        text(clj_post("-")),
        message="Content type of application/json provided but request body empty",
    ),
    Case(
        "clj-tab-in-field",
        CLJ,
        text("\t".join(CLJ_GET).replace("Mozilla%2F5.0", "Mozilla\t5.0")),
        message="Line does not match raw event format for Clojure Collector",
    ),
    # -- CloudFront web-distribution access logs --
    Case("wd-valid", WD, text(wd()), spark=True, good=1),
    Case("wd-header-only", WD, HEADERS.encode(), spark=True, skipped=2),
    Case("wd-crlf", WD, text(wd(), end="\r\n"), spark=True, good=1, gzip=True),
    Case(
        "wd-time-taken-digits-1mb",
        WD,
        text(wd(f18="1" * MiB + "x")),
        spark=True,
        message="Field [timeTaken]: cannot convert [111",
    ),
    Case(
        "wd-overflowing-bytes",
        WD,
        text(wd(f3="99999999999"), wd(f17="-" + "9" * 5000)),
        message="Field [scBytes]: cannot convert [99999999999] to Int",
    ),
    Case("wd-spaces-1mb", WD, text(wd(f10=" " * MiB)), spark=True, good=1),
    Case("wd-invalid-utf8", WD, wd().encode().replace(b"Hit", b"H\xffit") + b"\n", good=1),
    Case("wd-wrong-field-count", WD, text("a\tb\tc"), message="contained 3 fields"),
    Case("wd-binary", WD, binary(4), spark=True),
    # -- newline-delimited JSON (tracker protocol 2 bodies) --
    Case(
        "nd-valid",
        ND,
        text(payload_data(PV_EVENT)),
        spark=True,
        message="Request body provided but content type empty",
    ),
    Case("nd-blank-lines", ND, b"\n\n", spark=True, skipped=2),
    Case("nd-deep", ND, text("[" * 5000 + "]" * 5000), spark=True, message="Unparsable JSON"),
    Case("nd-open-brackets-1mb", ND, text("[" * MiB), message="Unparsable JSON"),
    Case(
        "nd-at-depth-limit",
        ND,
        text(payload_data(PV_EVENT, extra=nested(MAX_JSON_DEPTH - 1))),
        message="Request body provided but content type empty",  # read: not "Unparsable JSON"
    ),
    Case("nd-non-numbers", ND, text('{"a": NaN}', "[Infinity]"), message="Unparsable JSON"),
    Case("nd-huge-numbers", ND, text("[" + "9" * 10_000 + "]", "[1e999999]"), spark=True),
    Case("nd-binary", ND, binary(5), spark=True, gzip=True),
    Case("nd-invalid-utf8", ND, b'{"a": "\xff\xfe"}\n', spark=True),
]


def hadoop_lines(data: bytes) -> list[str]:
    """Lines as Spark's text source reads them: a UTF-8 byte order mark dropped, split on LF, CR
    or CRLF, decoded as UTF-8 with replacement characters; a final line terminator ends the last
    line, it does not add one."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    return [line.decode("utf-8", "replace") for line in data.splitlines()]


_ENRICHERS: dict[str, Enricher] = {}


def enricher(input_format: str) -> Enricher:
    if input_format not in _ENRICHERS:
        _ENRICHERS[input_format] = Enricher.from_config(input_format, ENRICHMENTS, ETL_TIMESTAMP_MS)
    return _ENRICHERS[input_format]


def assert_readable(row_text: str, inputs: set[str]) -> list[str]:
    """A bad row in Snowplow's shape whose messages are each one bounded, readable line.

    Java and Python may replace a run of invalid UTF-8 with different numbers of U+FFFD: such a
    line is only known to be an input line by its replacement characters.
    """
    row = json.loads(row_text)
    assert list(row) == ["line", "errors", "failure_tstamp"]
    assert row["line"] in inputs or "\ufffd" in row["line"]
    messages = [error["message"] for error in row["errors"]]
    assert messages
    for message in messages:
        assert message and len(message.splitlines()) == 1, message[:300]
        assert len(message) <= MAX_MESSAGE_LENGTH + 40
        assert "Traceback" not in message and "Unexpected error" not in message, message[:300]
    return messages


def test_the_corpus_is_big_and_covers_every_format():
    assert len(CORPUS) >= 40
    assert len({case.name for case in CORPUS}) == len(CORPUS)
    assert {case.input_format for case in CORPUS} == set(FORMATS)


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_every_hostile_line_is_accounted_for_quickly_with_readable_bad_rows(case):
    process_line = enricher(case.input_format).process_line
    lines = hadoop_lines(case.data)
    results: list[LineResult] = []
    for line in lines:
        started = time.process_time()
        results.append(process_line(line))
        assert time.process_time() - started < 1.0, f"a line of {len(line)} characters"

    for result in results:
        assert result.skipped != bool(result.good or result.bad)  # skipped, or has output
    assert sum(r.skipped for r in results) + sum(bool(r.good or r.bad) for r in results) == len(
        lines
    )
    messages = [m for r in results for row in r.bad for m in assert_readable(row, set(lines))]
    if case.good is not None:
        assert sum(len(r.good) for r in results) == case.good, messages[:3]
    if case.skipped is not None:
        assert sum(r.skipped for r in results) == case.skipped
    if case.message is not None:
        assert any(case.message in message for message in messages), messages[:3]


def test_deep_json_message_names_field_depth_and_limit():
    line = cf_qs("e=ue&ue_pr=" + "[" * 2000 + "]" * 2000)
    [row] = enricher(CF).process_line(line).bad
    [message] = [e["message"] for e in json.loads(row)["errors"] if TOO_DEEP in e["message"]]
    assert message.startswith("Field [ue_pr]: invalid JSON [[[[")
    assert f"with parsing error: {TOO_DEEP}" in message
    assert message.endswith(f"line: 1, column: {MAX_JSON_DEPTH + 2}]")  # read past bracket 1001


@pytest.mark.parametrize(
    "parameter",
    [f"co={quote(contexts(MAX_JSON_DEPTH))}", f"cx={b64(contexts(MAX_JSON_DEPTH))}"],
    ids=["co", "cx"],
)
def test_contexts_at_the_depth_limit_are_enriched_and_hashed_by_pii(parameter):
    """1000 levels, which Python's default recursion limit alone would refuse to parse."""
    [event] = enricher(CF).process_line(cf_qs(parameter)).good
    column = event.split("\t")[FIELD_INDEX["contexts"]]
    assert column.endswith('"x"' + "}" * (MAX_JSON_DEPTH - 2) + "]}")
    hashed = column.split('"a":"', 1)[1].split('"', 1)[0]
    assert len(hashed) == 64 and hashed != "secret"  # PII re-wrote the 1000-deep document


def test_an_unstruct_event_at_the_depth_limit_is_enriched():
    event = nested(MAX_JSON_DEPTH - 4)
    inner = f'{{"schema":"iglu:com.acme/deep/jsonschema/1-0-0","data":{event}}}'
    envelope = '{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"'
    ue_pr = f'{envelope},"data":{inner}}}'
    [good] = enricher(CF).process_line(cf_qs("e=ue&ue_px=" + b64(ue_pr))).good
    assert good.split("\t")[FIELD_INDEX["unstruct_event"]] == ue_pr


@pytest.mark.parametrize(
    ("input_format", "line"),
    [
        (CF, cf() + " " * MiB + "x"),  # a whitespace run after the 12th field
        (CF, cf(sep=" ") + " " * MiB + "Hit Kd5S8JmYmPQ=="),  # an empty cookie in a run
        (CF, cf(extra=CF_23) + "\t" + "y" * MiB + "\x85"),  # after the 23rd field
        (CF, cf_qs("e=tr&tr_tt=" + "1" * MiB + "x")),  # the decimal pattern
        (CF, cf_qs("e=tr&tr_tt=" + "1" * MiB + ".")),
        (CF, cf_qs("url=http%3A%2F%2F" + "a." * MiB + "com%2F" + "p" * MiB + "%3C")),
        (CLJ, " ".join(CLJ_GET) + " " * MiB + "x"),
        (CLJ, " ".join(CLJ_GET) + " -" + " " * MiB + "x y"),
        (WD, wd(f18="1" * MiB + "x")),
        (WD, wd(f18=" " * MiB)),
        (ND, "[" * MiB),
        (CF, cf_qs("co=" + "[" + ("9" * 4300 + ",") * 200 + "9" * 4301 + "]")),  # long numbers
        (CF, cf_qs("se_la=" + "é" * MiB)),  # a non-ASCII query, decoded unit by unit
    ],
    ids=lambda value: value if value in FORMATS else f"{len(value)} chars",
)
def test_a_megabyte_of_one_character_takes_under_a_second(input_format, line):
    """The patterns are linear: before, 8k spaces took 0.39 s and a megabyte hours."""
    process_line = enricher(input_format).process_line
    started = time.process_time()
    result = process_line(line)
    assert time.process_time() - started < 1.0
    assert result.good or result.bad


def test_a_line_over_the_limit_is_a_bad_row_without_being_parsed():
    limited = Enricher.from_config(CF, ENRICHMENTS, ETL_TIMESTAMP_MS, max_line_length=100)
    line = cf()
    [row] = limited.process_line(line).bad
    assert json.loads(row)["line"] == line
    assert [e["message"] for e in json.loads(row)["errors"]] == [
        f"Line of {len(line)} characters is longer than the limit of 100 (--max-line-length): "
        "not enriched"
    ]
    assert limited.process_line(line[:100]).bad  # 100 characters: parsed (and too short)
    assert enricher(CF).process_line(line).good


def test_the_line_limit_must_be_positive():
    with pytest.raises(ValueError, match="at least 1, got 0"):
        Enricher.from_config(CF, ENRICHMENTS, ETL_TIMESTAMP_MS, max_line_length=0)


def test_the_job_passes_its_line_limit_to_every_worker(tmp_path):
    spec = parse_args(job_args(tmp_path, CF, ENRICHMENTS, "--max-line-length", "100")).enricher
    [row] = spec.build().process_line(cf()).bad
    assert "longer than the limit of 100" in row
    assert parse_args(job_args(tmp_path, CF, ENRICHMENTS)).enricher.max_line_length == (
        DEFAULT_MAX_LINE_LENGTH
    )
    with pytest.raises(UsageError, match="--max-line-length must be at least 1: 0"):
        parse_args(job_args(tmp_path, CF, ENRICHMENTS, "--max-line-length", "0"))


# --- the same corpus through Spark --------------------------------------------------------------


def write_cases(folder: Path, cases: list[Case]) -> list[str]:
    """One file per case (gzip where asked); the lines Spark will read from them."""
    folder.mkdir(parents=True)
    lines: list[str] = []
    for index, case in enumerate(cases):
        name = f"E2.2026-12-04-16.{index:03d}.{case.name}"
        if case.gzip:
            (folder / f"{name}.gz").write_bytes(gzip.compress(case.data))
        else:
            (folder / name).write_bytes(case.data)
        lines.extend(hadoop_lines(case.data))
    return lines


@pytest.mark.spark
@pytest.mark.parametrize("input_format", FORMATS)
def test_spark_job_accounts_for_every_hostile_line(spark, tmp_path, input_format):
    cases = [case for case in CORPUS if case.spark and case.input_format == input_format]
    lines = write_cases(tmp_path / "in", cases)

    counts = run_job(job_args(tmp_path, input_format, ENRICHMENTS), spark)

    results = [enricher(input_format).process_line(line) for line in lines]
    assert counts.input_lines == len(lines)
    assert counts.input_lines == counts.skipped_lines + counts.lines_with_output
    assert (counts.good_events, counts.bad_rows, counts.skipped_lines) == (
        sum(len(r.good) for r in results),
        sum(len(r.bad) for r in results),
        sum(r.skipped for r in results),
    )
    good, bad = output_lines(tmp_path / "good"), output_lines(tmp_path / "bad")
    assert (len(good), len(bad)) == (counts.good_events, counts.bad_rows)
    assert all(len(event.split("\t")) == 131 for event in good)
    for row in bad:
        assert_readable(row, set(lines))
    # The slowest lines are reported, slowest first, by their start and length, as the job read
    # them: Java may replace a run of invalid UTF-8 with another number of U+FFFD than Python, so
    # the reference is Spark's own reading of the files, not ``lines``.
    slowest = counts.slowest_lines
    assert 0 < len(slowest) <= SLOWEST_LINES_SHOWN
    assert [entry["seconds"] for entry in slowest] == sorted(
        (entry["seconds"] for entry in slowest), reverse=True
    )
    read = [row.value for row in spark.read.text(str(tmp_path / "in")).collect()]
    assert len(read) == len(lines)
    for entry in slowest:
        assert any(
            len(line) == entry["characters"] and line[:SLOW_LINE_START] == entry["line_start"]
            for line in read
        )


def crc_flipped(data: bytes) -> bytes:
    return data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:]


@pytest.mark.spark
@pytest.mark.parametrize(
    ("corrupt", "cause"),
    [
        (crc_flipped, "CRC failure"),
        (lambda data: data[:-4] + b"\0\0\0\0", "size doesn't match"),
        (lambda data: data + b"this is not gzip data\n", "not a gzip file"),
        (lambda data: data[:10], "Unexpected end of input stream"),
        (lambda data: data[:200] + bytes([data[200] ^ 0xFF]) + data[201:], "IOException"),
    ],
    ids=["crc", "size", "trailing-garbage", "header-only", "flipped-byte"],
)
def test_corrupt_gzip_fails_naming_the_file(spark, tmp_path, corrupt, cause):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "ok").write_bytes(text(cf()))
    data = gzip.compress(text(*[cf()] * 2000))
    (tmp_path / "in" / "broken.gz").write_bytes(corrupt(data))

    with pytest.raises(InputReadError, match=rf"/in/broken\.gz: .*{cause}"):
        run_job(job_args(tmp_path, CF, ENRICHMENTS), spark)
    assert not (tmp_path / "good").exists()


@pytest.mark.spark
def test_an_empty_gzip_file_and_concatenated_members_lose_nothing(spark, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.gz").write_bytes(b"")
    members = gzip.compress(text(cf(), cf())) + gzip.compress(text(*HEADERS.splitlines(), cf()))
    (tmp_path / "in" / "members.gz").write_bytes(members)

    counts = run_job(job_args(tmp_path, CF, ENRICHMENTS), spark)

    assert (counts.input_lines, counts.good_events, counts.skipped_lines) == (5, 3, 2)
