"""The sample-log generator: realistic, deterministic, and every good line enriches cleanly."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import UTC, datetime

import maxminddb
import pytest

from snowplow_dagster.enrich.adapters import to_raw_events
from snowplow_dagster.enrich.enricher import Enricher
from snowplow_dagster.enrich.enrichments.registry import load_enrichments_directory
from snowplow_dagster.enrich.loaders import get_loader
from snowplow_dagster.enrich.querystring import decode_base64url
from snowplow_dagster.generator import (
    CLOUDFRONT_HEADERS,
    DEFAULT_START,
    generate_lines,
    generate_records,
    write_log_files,
)
from snowplow_dagster.samples import SAMPLE_ENRICHMENTS, SAMPLE_MAXMIND, SAMPLE_RESOLVER

FORMATS = ["cloudfront", "clj-tomcat"]
ETL_TSTAMP_MS = 1_000_000_000_000


def _events(input_format: str, count: int, **options) -> list:
    """Every raw event of the generated lines, through the real loader and adapters."""
    load = get_loader(input_format)
    return [
        event
        for line in generate_lines(input_format, count, **options)
        for event in to_raw_events(load(line))
    ]


def _line_time(line: str) -> datetime:
    date, time = line.split("\t")[:2]
    return datetime.fromisoformat(f"{date}T{time}+00:00")


@pytest.mark.parametrize("input_format", FORMATS)
def test_same_seed_same_lines(input_format):
    first = list(generate_lines(input_format, 300, seed=7, bad_fraction=0.1))
    assert first == list(generate_lines(input_format, 300, seed=7, bad_fraction=0.1))
    assert first != list(generate_lines(input_format, 300, seed=8, bad_fraction=0.1))


@pytest.mark.parametrize("input_format", FORMATS)
@pytest.mark.parametrize("bad_fraction", [0.0, 0.3])
def test_lines_carry_exactly_the_events_asked_for(input_format, bad_fraction):
    records = list(generate_records(input_format, 1000, seed=1, bad_fraction=bad_fraction))
    assert sum(record.events for record in records) == 1000


@pytest.mark.parametrize("input_format", FORMATS)
def test_timestamps_start_at_start_and_never_go_back(input_format):
    start = datetime(2025, 3, 30, 0, 59, 58, tzinfo=UTC)
    times = [_line_time(line) for line in generate_lines(input_format, 2000, start=start)]
    assert start <= times[0] <= start.replace(second=59)
    assert times == sorted(times)
    assert times[-1] > times[0]


def test_default_start_is_fixed():
    assert _line_time(next(generate_lines("cloudfront", 1))) >= DEFAULT_START


@pytest.fixture(scope="module")
def sample_enrichments():
    """The enrichments the demo runs with (MaxMind test databases, UA and referer parsers...)."""
    return load_enrichments_directory(SAMPLE_ENRICHMENTS)


@pytest.mark.parametrize("input_format", FORMATS)
def test_every_good_line_enriches_and_every_bad_one_is_a_bad_row(input_format, sample_enrichments):
    """With the sample resolver: its embedded repository has every schema the generator uses
    (Iglu Central over HTTP is never asked), and schema-violating contexts are bad rows."""
    resolver = json.loads(SAMPLE_RESOLVER.read_text())
    enricher = Enricher.from_config(input_format, sample_enrichments, ETL_TSTAMP_MS, resolver)
    records = list(generate_records(input_format, 3000, seed=5, bad_fraction=0.2))
    failures = Counter()
    for record in records:
        result = enricher.process_line(record.text)
        if record.good:
            assert result.bad == [], (record.text, result.bad)
            assert len(result.good) == record.events
        else:
            assert result.bad, record.text
            failures[json.loads(result.bad[0])["errors"][0]["message"][:20]] += 1
    assert sum(failures.values()) / len(records) == pytest.approx(0.2, abs=0.04)
    assert failures["error: object instan"] > 0  # the web_page context's forbidden property
    assert len(failures) >= 6  # broken in several ways: loader, adapter and enrichment errors


@pytest.mark.parametrize("input_format", FORMATS)
def test_event_mix(input_format):
    codes = Counter(event.parameters["e"] for event in _events(input_format, 6000, seed=2))
    shares = {code: count / codes.total() for code, count in codes.items()}
    assert shares["pv"] == pytest.approx(0.55, abs=0.04)
    assert shares["pp"] == pytest.approx(0.25, abs=0.03)
    assert shares["se"] == pytest.approx(0.08, abs=0.02)
    assert shares["ue"] == pytest.approx(0.07, abs=0.02)
    assert shares["tr"] + shares["ti"] == pytest.approx(0.05, abs=0.02)
    assert set(codes) == {"pv", "pp", "se", "ue", "tr", "ti"}


@pytest.mark.parametrize("input_format", FORMATS)
def test_events_look_like_a_javascript_tracker(input_format):
    events = [event.parameters for event in _events(input_format, 3000, seed=3)]
    assert {"ue_pr", "ue_px"} <= {key for event in events for key in event}
    assert {"co", "cx"} <= {key for event in events for key in event}
    for event in events:
        assert event["p"] == "web" and event["tv"].startswith("js-")
        assert int(event["dtm"]) <= int(event["stm"])
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", event["eid"]
        )
        contexts = event.get("co") or decode_base64url(event["cx"])
        assert json.loads(contexts)["data"][0]["schema"].endswith("/web_page/jsonschema/1-0-0")
    sessions = Counter((event["duid"], event["sid"]) for event in events)
    assert max(sessions.values()) > 1  # visitors come back within their session
    urls = " ".join(event["url"] for event in events)
    for marker in ("utm_source=", "utm_campaign=", "gclid=", "_sp="):
        assert marker in urls
    referers = {event.get("refr", "").split("/")[2] for event in events if event.get("refr")}
    assert {"www.google.com", "www.bing.com", "www.facebook.com"} <= referers
    assert any(event.get("ttm") for event in events)


@pytest.mark.parametrize("input_format", FORMATS)
def test_visitors_use_many_user_agents_and_the_maxmind_test_networks(input_format):
    payloads = [get_loader(input_format)(line) for line in generate_lines(input_format, 4000)]
    useragents = {payload.useragent for payload in payloads}
    assert len(useragents) >= 30
    assert any("bot" in useragent.lower() for useragent in useragents)
    database = SAMPLE_MAXMIND / "GeoIP2-City-Test.mmdb"
    with maxminddb.open_database(str(database)) as reader:
        located = [reader.get(payload.ip_address) is not None for payload in payloads]
    assert 0.3 < sum(located) / len(located) < 0.9  # test networks and other public IPs


def test_cloudfront_lines_are_33_field_gets_double_encoded():
    lines = list(generate_lines("cloudfront", 500))
    assert all(len(line.split("\t")) == 33 for line in lines)
    assert all(line.split("\t")[5:8:2] == ["GET", "/i"] for line in lines)
    assert all("%253A" in line.split("\t")[11] for line in lines)  # "%" double-encoded
    forwarded = [line.split("\t")[19] for line in lines if line.split("\t")[19] != "-"]
    assert forwarded  # some requests came through a proxy


def test_clj_tomcat_has_gets_and_tp2_post_batches():
    load = get_loader("clj-tomcat")
    sizes = Counter()
    for record in generate_records("clj-tomcat", 3000, seed=4):
        fields = record.text.split("\t")
        assert len(fields) == 17
        assert re.search(r"&cv=clj-1\.1\.0-tom-0\.2\.0&nuid=[0-9a-f-]{36}$", fields[11])
        if fields[5] == "POST":
            payload = load(record.text)
            assert payload.content_type == "application/json; charset=UTF-8"
            sizes[len(json.loads(payload.body)["data"])] += 1
        else:
            assert fields[5:8] == ["GET", fields[4], "/i"] and fields[15:] == ["-", "-"]
    assert set(sizes) == {1, 2, 3, 4, 5}


@pytest.mark.parametrize("bad_fraction", [-0.1, 1.5])
def test_bad_fraction_must_be_a_fraction(bad_fraction):
    with pytest.raises(ValueError, match="bad_fraction"):
        list(generate_lines("cloudfront", 10, bad_fraction=bad_fraction))


def test_only_collector_formats_can_be_generated():
    with pytest.raises(ValueError, match=r"\[thrift\]"):
        list(generate_lines("thrift", 10))


def _read(path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


def test_cloudfront_files_are_named_and_headed_like_cloudfront(tmp_path):
    paths = write_log_files(tmp_path / "in", "cloudfront", 900, files=3, bad_fraction=0.1)
    assert len(paths) == 3
    contents = [_read(path) for path in paths]
    for path, lines in zip(paths, contents, strict=True):
        match = re.fullmatch(r"E[A-Z0-9]{13}\.(\d{4}-\d\d-\d\d-\d\d)\.[0-9a-f]{8}\.gz", path.name)
        assert match and path.parent == tmp_path / "in"
        assert lines[:2] == list(CLOUDFRONT_HEADERS)
        assert match[1] == _line_time(lines[2]).strftime("%Y-%m-%d-%H")
    assert [len(lines) - 2 for lines in contents] == [300, 300, 300]  # one event per line
    data_lines = [line for lines in contents for line in lines[2:]]
    assert data_lines == list(generate_lines("cloudfront", 900, bad_fraction=0.1))
    assert len({path.name.split(".")[0] for path in paths}) == 1  # one distribution


def test_clj_tomcat_files_are_beanstalk_rotations_in_an_instance_folder(tmp_path):
    paths = write_log_files(
        tmp_path, "clj-tomcat", 600, files=2, gzip=False, seed=3, instance="i-0a1b2c3d"
    )
    assert all(path.parent == tmp_path / "i-0a1b2c3d" for path in paths)
    rotations = [
        re.fullmatch(r"_var_log_tomcat8_rotated_localhost_access_log\.txt(\d{10})", path.name)
        for path in paths
    ]
    assert all(rotations)
    contents = [_read(path) for path in paths]
    assert contents[0] + contents[1] == list(generate_lines("clj-tomcat", 600, seed=3))
    # Each file is rotated after its last line, the second after the first.
    assert _line_time(contents[0][-1]).timestamp() < int(rotations[0][1]) < int(rotations[1][1])


def test_more_files_than_events_still_writes_every_file(tmp_path):
    paths = write_log_files(tmp_path, "cloudfront", 2, files=4)
    assert len(paths) == len(set(paths)) == 4
    assert [len(_read(path)) for path in paths] == [3, 3, 2, 2]
