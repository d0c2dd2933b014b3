"""The EMR engine: ``resource`` (the Dagster resource), ``runner`` (owns clusters), ``request``
(RunJobFlow and steps), ``wait`` (polling decisions), ``report`` (results and failures) and
``api`` (the only code that calls AWS)."""
