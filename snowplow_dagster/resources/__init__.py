"""Thin shells around the outside world (object storage, EMR); the logic stays outside."""
