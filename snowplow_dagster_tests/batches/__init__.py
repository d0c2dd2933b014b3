"""Tests of claiming, manifests, staging and archiving, on moto's S3 and local folders."""
