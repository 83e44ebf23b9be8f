"""OmegaConf resolvers the config tree uses, registered explicitly by the entry points."""

from __future__ import annotations

import hashlib

from omegaconf import OmegaConf


def fingerprint(text: str | None = "") -> str:
    """A short stable name for a command line: the first 12 hex digits of its sha256."""
    return hashlib.sha256(str(text or "").encode()).hexdigest()[:12]


def register_resolvers() -> None:
    """Register `${dg.fingerprint:...}`; safe to call more than once."""
    OmegaConf.register_new_resolver("dg.fingerprint", fingerprint, replace=True)
