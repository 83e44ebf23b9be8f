"""Ingestion: synthetic data, local folders, local archives and http(s) downloads, verified.

See ``deepguard.ingest.ingest`` for the guarantees (sha256 before extraction, safe extraction,
atomic replacement, idempotence).
"""

from deepguard.ingest.archives import safe_extract, verify_sha256
from deepguard.ingest.download import download
from deepguard.ingest.ingest import IngestResult, ingest, stamp_path

__all__ = [
    "IngestResult",
    "download",
    "ingest",
    "safe_extract",
    "stamp_path",
    "verify_sha256",
]
