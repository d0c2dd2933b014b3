import json
import re
import time

from snowplow_dagster.enrich.badrow import bad_row


def test_r71_format_compact_in_snowplow_key_order():
    row = bad_row("a\tline", ["first", "second"], failure_tstamp_ms=1000000000123)
    assert row == (
        '{"line":"a\\tline","errors":[{"level":"error","message":"first"},'
        '{"level":"error","message":"second"}],"failure_tstamp":"2001-09-09T01:46:40.123Z"}'
    )


def test_non_ascii_text_is_kept():
    row = bad_row("Χαριτίνη", ["Field [e]: [λ] is not a recognised event code"], 0)
    assert "Χαριτίνη" in row and "[λ]" in row
    assert json.loads(row)["line"] == "Χαριτίνη"


def test_failure_tstamp_defaults_to_now():
    before = time.time()
    stamp = json.loads(bad_row("x", ["m"]))["failure_tstamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    parsed = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert before - 2 < parsed < time.time() + 2
