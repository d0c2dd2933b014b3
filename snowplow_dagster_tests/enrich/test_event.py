from snowplow_dagster.enrich.event import EnrichedEvent
from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS, FIELD_INDEX, FIELD_TYPES


def test_there_are_131_columns_in_snowplow_order() -> None:
    assert len(ENRICHED_EVENT_FIELDS) == 131
    assert len(set(ENRICHED_EVENT_FIELDS)) == 131
    assert ENRICHED_EVENT_FIELDS[0] == "app_id"
    assert ENRICHED_EVENT_FIELDS[121] == "refr_dvce_tstamp"
    assert ENRICHED_EVENT_FIELDS[130] == "true_tstamp"
    assert set(FIELD_TYPES) == set(ENRICHED_EVENT_FIELDS)
    assert FIELD_INDEX["derived_contexts"] == 122


def test_an_empty_event_is_130_tabs() -> None:
    assert EnrichedEvent().to_tsv() == "\t" * 130


def test_columns_land_at_their_index_and_unset_ones_are_empty() -> None:
    event = EnrichedEvent()
    event.app_id = "shop"
    event.event_fingerprint = "abc"
    event.true_tstamp = "2013-03-25 13:52:09.188"
    columns = event.to_tsv().split("\t")
    assert len(columns) == 131
    assert columns[0] == "shop"
    assert columns[FIELD_INDEX["event_fingerprint"]] == "abc"
    assert columns[130] == "2013-03-25 13:52:09.188"
    assert [c for c in columns if c] == ["shop", "abc", "2013-03-25 13:52:09.188"]


def test_a_column_set_back_to_none_is_written_empty() -> None:
    event = EnrichedEvent()
    event.user_id = "u1"
    event.user_id = None
    event.platform = "web"
    assert event.to_tsv() == "\tweb" + "\t" * 129
