"""Tests of the local engine (S3DistCp equivalent, local Spark)."""
