"""The enriched event being built, and its TSV serialisation.

An ``EnrichedEvent`` holds each output column as its final TSV text (or None) under the column's
name, so enrichments set ``event.geo_country = "US"`` and serialising is a join. Columns never set
read as None through the class attributes, which keeps building an event cheap: only the columns
an event has cost anything.
"""

from __future__ import annotations

from snowplow_dagster.enrich.fields import ENRICHED_EVENT_FIELDS


class EnrichedEvent:
    """Mutable bag of output columns; unset columns are None."""

    def to_tsv(self) -> str:
        """The 131 columns joined by tabs, None written as the empty string.

        Runs once per event: the C-level ``map`` path is twice as fast as a comprehension, and
        only an event with a column explicitly set to None pays for the second pass.
        """
        values = self.__dict__
        try:
            return "\t".join(map(values.get, ENRICHED_EVENT_FIELDS, _UNSET))
        except TypeError:
            return "\t".join([values.get(name) or "" for name in ENRICHED_EVENT_FIELDS])


_UNSET = ("",) * len(ENRICHED_EVENT_FIELDS)

for _name in ENRICHED_EVENT_FIELDS:
    setattr(EnrichedEvent, _name, None)
del _name
