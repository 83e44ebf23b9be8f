"""OmegaConf resolvers the config tree uses, registered explicitly by the entry points."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from omegaconf import OmegaConf


def fingerprint(text: str | None = "") -> str:
    """A short stable name for a command line: the first 12 hex digits of its sha256."""
    return hashlib.sha256(str(text or "").encode()).hexdigest()[:12]


def project_root() -> str:
    """`DEEPGUARD_ROOT` if set, else the directory the command runs in, as an absolute path.

    Hydra's own `${hydra:runtime.cwd}` cannot be used here: a multirun resolves its sweep
    folder (which lives under the project root) before Hydra's runtime values exist.
    """
    return str(Path(os.environ.get("DEEPGUARD_ROOT") or os.getcwd()).resolve())


def register_resolvers() -> None:
    """Register `${dg.fingerprint:...}` and `${dg.project_root:}`; safe to call again."""
    OmegaConf.register_new_resolver("dg.fingerprint", fingerprint, replace=True)
    OmegaConf.register_new_resolver("dg.project_root", project_root, replace=True)
