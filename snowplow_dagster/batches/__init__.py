"""Batches: claiming objects into manifests, staging and archiving them; nothing lost or twice.

Imports only ``storage`` and ``config``: the Dagster layer, the engines and the CLI build on it.
"""
