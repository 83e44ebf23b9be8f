"""Fixtures: small image folders and a saved tiny detector in tmp_path."""

import pytest
from evaluation_helpers import tiny_detector, write_records


@pytest.fixture
def records(tmp_path):
    return write_records(tmp_path / "images")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.keras"
    tiny_detector().save(path)
    return path
