import json

import pytest

from snowplow_dagster.enrich.counts import EVENT_TYPES, JobCounts

TOTALS = {
    "input_lines": 5,
    "skipped_lines": 1,
    "lines_with_output": 4,
    "good_events": 3,
    "bad_rows": 2,
}


def test_counts_read_back_what_the_job_wrote() -> None:
    counts = JobCounts(
        **TOTALS,
        event_types={**dict.fromkeys(EVENT_TYPES, 0), "page_view": 2, "unstruct": 1},
        unstruct_events={"com.acme/click": 1},
        objects={"a.gz": {"lines": 5, **{k: TOTALS[k] for k in list(TOTALS)[:3]}}},
        slowest_lines=[{"seconds": 0.5, "characters": 80, "line_start": "2026-11-21"}],
    )

    read = JobCounts.from_json(counts.to_json().encode())

    assert read == counts
    assert read.slowest_lines == counts.slowest_lines
    assert read.by_type


def test_an_older_jobs_counts_have_no_per_type_counts_rather_than_zeros() -> None:
    read = JobCounts.from_json(json.dumps(TOTALS))

    assert (read.input_lines, read.good_events, read.bad_rows) == (5, 3, 2)
    assert read.event_types == read.unstruct_events == read.objects == {}
    assert not read.by_type
    assert JobCounts().by_type  # the job always lists every type, 0 or not


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps({"input_lines": 1, "skipped_lines": 0}), "missing lines_with_output, good_"),
        ("[1, 2]", "expected a JSON object, got list"),
        ("{", "Expecting property name"),
    ],
)
def test_a_file_that_is_not_counts_is_refused_naming_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JobCounts.from_json(text)
