"""The code location: the Definitions object Dagster loads, and nothing else."""

import dagster as dg

defs = dg.Definitions()
