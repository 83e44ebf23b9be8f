"""Test-only helpers importable from subprocesses started by the tests."""
