"""Every experiment preset and every backbone the project ships, trained tiny and registered.

The registry-driven app tests open every page with two of these models selected, so a new
file in conf/experiment or conf/backbone is opened by the app the day it is added. Models are
trained on demand and kept for the whole test session (`ModelZoo.train` is idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepguard.config.compose import compose_config
from tests.conftest import CONF_DIR

GROUPS = ("experiment", "backbone")
# Entries cheap enough for the default test run (the multi-scale probe and NPR among them);
# every other entry, and every entry added later, runs with the slow tests.
FAST = {("experiment", "quick"), ("experiment", "vgg16_hed_probe"), ("backbone", "npr")}
FAST |= {("backbone", "small_cnn")}
TINY = [
    "data=synthetic",
    "data.batch_size=8",
    "data.synthetic.n_per_class=24",
    "data.synthetic.image_size=32",
]
SAMPLE_FOLDER = Path("data") / "synthetic" / "32px"  # under a trained entry's project root


@dataclass(frozen=True)
class ZooEntry:
    """One shipped config: ``experiment=<name>`` or ``backbone=<name>``."""

    group: str
    name: str

    @property
    def registered_name(self) -> str:
        return f"{self.group}-{self.name}"

    @property
    def fast(self) -> bool:
        return (self.group, self.name) in FAST

    @property
    def override(self) -> str:
        return f"{self.group}={self.name}"


def zoo_entries() -> list[ZooEntry]:
    """Every file of conf/experiment and conf/backbone."""
    return [
        ZooEntry(group, path.stem)
        for group in GROUPS
        for path in sorted((CONF_DIR / group).glob("*.yaml"))
    ]


def zoo_pairs() -> list[tuple[ZooEntry, ZooEntry]]:
    """The entries two by two, fast ones first, so each is opened beside another once."""
    entries = sorted(zoo_entries(), key=lambda e: (not e.fast, GROUPS.index(e.group), e.name))
    if len(entries) % 2:
        entries.append(entries[0])
    return [(entries[i], entries[i + 1]) for i in range(0, len(entries), 2)]


def tiny_overrides(entry: ZooEntry, root: Path) -> list[str]:
    """The entry at tiny size: its smallest input, one or two epochs, offline weights.

    A pretrained preset keeps its phases (frozen, then fine-tuned when it fine-tunes) in two
    epochs; weights that would download (imagenet) become null.
    """
    cfg = compose_config(CONF_DIR, "train", [entry.override, *TINY], root)
    size = max(32, int(cfg.backbone.min_image_size))
    weights = cfg.backbone.get("weights")
    overrides = [entry.override, *TINY, f"data.image_size={size}"]
    if weights == "imagenet":
        overrides.append("backbone.weights=null")
    if weights not in (None, "imagenet") and cfg.trainer.finetune:
        fine_tunes = cfg.trainer.finetune < cfg.trainer.max_epochs
        return [*overrides, "trainer.max_epochs=2", f"trainer.finetune={1 if fine_tunes else 2}"]
    return [*overrides, "trainer.max_epochs=1"]


class ModelZoo:
    """A session's MLflow store of tiny trained entries, each registered under its own name."""

    def __init__(self, base: Path):
        self.base = base
        self.tracking_uri = f"sqlite:///{base / 'mlruns' / 'mlflow.db'}"
        self.roots: dict[ZooEntry, Path] = {}

    def train(self, entry: ZooEntry) -> None:
        """Train and register `entry` unless this session already did."""
        from hydra.core.global_hydra import GlobalHydra
        from hydra.core.hydra_config import HydraConfig

        from deepguard.training import train

        if entry in self.roots:
            return
        root = self.base / entry.registered_name
        overrides = [
            *tiny_overrides(entry, root),
            f"registry.name={entry.registered_name}",
            f"logger.tracking_uri={self.tracking_uri}",
        ]
        try:
            train(compose_config(CONF_DIR, "train", overrides, root))
        finally:
            GlobalHydra.instance().clear()
            HydraConfig.instance().cfg = None  # leave no Hydra context for later tests
        self.roots[entry] = root

    def label(self, entry: ZooEntry) -> str:
        """How the app names the entry's registered version (``name vN (aliases)``)."""
        from deepguard_app.store import read_store

        labels = [v.label for v in read_store(self.tracking_uri).versions]
        return next(label for label in labels if label.startswith(f"{entry.registered_name} v"))

    @property
    def samples(self) -> Path:
        """A folder of real and fake sample images (the synthetic data of a trained entry)."""
        return next(iter(self.roots.values())) / SAMPLE_FOLDER
