"""The one partitions definition: a batch, keyed by EmrEtlRunner's run id (``YYYY-MM-DD-HH-MM-SS``).

Dynamic, because batches are cut by what arrived (the sensor adds a key per claimed manifest), not
by the clock; the key names every ``run=<id>/`` folder, so Snowplow tooling reads our layout as is.
"""

import dagster as dg

batches = dg.DynamicPartitionsDefinition(name="batches")
