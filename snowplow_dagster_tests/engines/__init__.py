"""Tests of the execution engines: step lists, the local engine, EMR against moto."""
