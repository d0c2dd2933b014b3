"""Tests of the EMR engine against moto's EMR and S3 servers."""
