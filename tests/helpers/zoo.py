"""Every experiment preset and every backbone the project ships, trained and registered.

Two registry-driven tests share these models, so each is trained once per session:

- every backbone trains from scratch with the documented recipe on the default data
  (tests/models/test_backbones_learn.py checks that it learned);
- every experiment preset trains tiny (one batch), since only its architecture matters there;
- the app opens every page with two of them selected (tests/app/test_every_model.py).

A new file in conf/experiment or conf/backbone is trained, checked and opened the day it is
added. Models are trained on demand (`ModelZoo.train` is idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from deepguard.config.compose import compose_config
from tests.conftest import CONF_DIR
from tests.helpers.learning import StopOnceLearned

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
    # One training batch per epoch: the pages need a registered model of each architecture,
    # not a good one. Callbacks and robustness scoring have their own tests.
    "trainer.limit_train_batches=1",
    # Tracing a large backbone's training graph takes minutes on 2 cores, its one step
    # eagerly a second; graph-mode training of every backbone is tests/models/test_backbones_learn.
    "trainer.run_eagerly=true",
    "callbacks=none",
    "evaluation.robustness=false",
]
# The learning recipe runs each backbone at its smallest size, at least this many pixels: a
# quarter of the default 64 px's cost; the failures it guards against (a constant answer, dead
# units) do not depend on the size.
SMALLEST_LEARNING_SIZE = 32


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


def pair_id(pair: tuple[ZooEntry, ZooEntry]) -> str:
    """The test id of a pair, e.g. ``backbone=vgg19+backbone=xception``."""
    return "+".join(entry.override for entry in pair)


def trains_a_backbone(pair: tuple[ZooEntry, ZooEntry]) -> bool:
    """Whether the pair needs a backbone's learning run (minutes for ImageNet-scale ones)."""
    return any(entry.group == "backbone" for entry in pair)


def pair_group(pair: tuple[ZooEntry, ZooEntry]) -> str:
    """The pytest-xdist group of the tests that need the pair's learning runs.

    A backbone's learning run is shared by its learning test and its pair's app test, so
    those run in one worker; each pair gets its own group so that the pairs themselves spread
    over the workers.
    """
    return f"zoo-{pair_id(pair)}"


def backbone_group(backbone: str) -> str:
    """The pytest-xdist group of the pair `backbone` is opened in."""
    entry = ZooEntry("backbone", backbone)
    return next(pair_group(pair) for pair in zoo_pairs() if entry in pair)


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


def learning_size(backbone: str) -> int:
    """The smallest side `backbone` accepts, at least `SMALLEST_LEARNING_SIZE`, a multiple of 4."""
    minimum = int(OmegaConf.load(CONF_DIR / "backbone" / f"{backbone}.yaml").min_image_size)
    return max(SMALLEST_LEARNING_SIZE, -(-minimum // 4) * 4)  # synthetic sides: multiples of 4


def learning_overrides(entry: ZooEntry, data_dir: Path) -> list[str]:
    """The documented from-scratch run (conf/train.yaml: Adam at 1e-3, warm-up cosine, 5
    epochs; the default synthetic set, 400 + 400 images at the default difficulty), ended
    after the first epoch that shows the backbone learned (tests/helpers/learning.py)."""
    return [
        entry.override,
        f"data.image_size={learning_size(entry.name)}",
        f"paths.data_dir={data_dir}",  # each image size is generated once for the session
        "callbacks=minimal",
        f"+callbacks.stop_once_learned._target_={StopOnceLearned.__module__}.StopOnceLearned",
    ]


class ModelZoo:
    """A session's MLflow store of trained entries, each registered under its own name."""

    def __init__(self, base: Path):
        self.base = base
        self.tracking_uri = f"sqlite:///{base / 'mlruns' / 'mlflow.db'}"
        self.roots: dict[ZooEntry, Path] = {}
        self.metrics: dict[ZooEntry, dict[str, float]] = {}
        self.configs: dict[ZooEntry, object] = {}
        self.output_dirs: dict[ZooEntry, Path] = {}  # each run's folder: model.keras, history

    def overrides(self, entry: ZooEntry, root: Path) -> list[str]:
        if entry.group == "backbone":
            return learning_overrides(entry, self.base / "data")
        return tiny_overrides(entry, root)

    def train(self, entry: ZooEntry) -> dict[str, float]:
        """Train and register `entry` unless this session already did; its metrics."""
        from hydra.core.global_hydra import GlobalHydra
        from hydra.core.hydra_config import HydraConfig

        from deepguard.training import train

        if entry in self.roots:
            return self.metrics[entry]
        root = self.base / entry.registered_name
        overrides = [
            *self.overrides(entry, root),
            f"registry.name={entry.registered_name}",
            f"logger.tracking_uri={self.tracking_uri}",
        ]
        try:
            cfg = compose_config(CONF_DIR, "train", overrides, root)
            self.metrics[entry] = train(cfg)
            # Resolved now: the folder's name reads the Hydra context, cleared below.
            self.output_dirs[entry] = Path(cfg.paths.output_dir)
        finally:
            GlobalHydra.instance().clear()
            HydraConfig.instance().cfg = None  # leave no Hydra context for later tests
        self.configs[entry], self.roots[entry] = cfg, root
        return self.metrics[entry]

    def label(self, entry: ZooEntry) -> str:
        """How the app names the entry's registered version (``name vN (aliases)``)."""
        from deepguard_app.store import read_store

        labels = [v.label for v in read_store(self.tracking_uri).versions]
        return next(label for label in labels if label.startswith(f"{entry.registered_name} v"))

    @property
    def samples(self) -> Path:
        """A folder of real and fake sample images (a small synthetic set at 32 px)."""
        from deepguard.data.synthetic import generate_synthetic

        folder = self.base / "samples"
        generate_synthetic(folder, n_per_class=12, image_size=32)  # a no-op once written
        return folder
