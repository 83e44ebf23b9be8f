"""`DataModule`: everything the trainer needs to know about a dataset, behind one object.

Example:
    >>> data = DataModule(root="data/synthetic", synthetic={"n_per_class": 400})  # doctest: +SKIP
    >>> data.setup()                                                           # doctest: +SKIP
    >>> model.fit(data.train_dataset(), validation_data=data.val_dataset())    # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from deepguard.config.faces import FaceSettings
from deepguard.data.labels import CLASS_NAMES
from deepguard.data.layouts import discover, discover_manifest
from deepguard.data.splits import SPLITS, assign_splits, drop_duplicates, limit_per_split
from deepguard.data.synthetic import generate_synthetic
from deepguard.data.validation import QUARANTINE_COLUMNS, scan_images
from deepguard.errors import DataError
from deepguard.faces.crop import no_face_reason
from deepguard.faces.regions import FaceRegions
from deepguard.images import DATASET_LIMITS, FileRegions, Region, check_image, whole_image

if TYPE_CHECKING:
    import tensorflow as tf

    from deepguard.data.augmentation import Augmenter
    from deepguard.data.pipeline import Perturbation, SynthesizedFakes
    from deepguard.fakes import FakeSynthesizer

log = logging.getLogger(__name__)


class DataModule:
    """Finds, checks and splits a dataset, and serves it as streaming `tf.data` pipelines.

    Args:
        root: dataset folder; with `manifest`, only named in the reports.
        layout: ``auto`` or a layout name from `deepguard.data.layouts.LAYOUTS`.
        manifest: a CSV ``path,label[,generator,split]`` with paths relative to the CSV;
            overrides `root` and `layout`.
        image_size: side of the square model input, in pixels.
        batch_size: images per batch.
        val_fraction: share of unsplit images hashed into validation.
        test_fraction: share of unsplit images hashed into test.
        seed: seeds the hash split and the shuffle order.
        max_bad_fraction: largest share of unreadable files before setup stops.
        shuffle_buffer: file paths the training shuffle draws from.
        num_parallel_calls: decode threads; ``None`` lets tf.data tune it.
        synthetic: keyword arguments of `generate_synthetic` to create the set in `root`
            first (the offline default; ``image_size`` defaults to this `image_size`), or
            ``None`` for existing data.
        limit: at most this many images per split (quick debugging runs), or ``None``.
        augmentation: an `Augmenter`, its keyword arguments, or ``None``; training only.
        region: the part of each image the model sees (`deepguard.images.whole_image`):
            the scan and every dataset apply it, between the decode and the resize.
        faces: the `faces` settings (`FaceSettings` or its mapping, `conf/faces/`); when
            enabled, `setup` detects every file's face once (through the detection cache,
            with a progress bar) and each file's region is then the crop of its face. Files
            with no face are quarantined (``on_missing: skip``) or used whole.
        fakes: a `deepguard.fakes.FakeSynthesizer` (the `fakes` group) that adds virtual
            fake records to its splits, synthesized in the loader; ``None`` for none.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        layout: str = "auto",
        manifest: str | os.PathLike | None = None,
        image_size: int = 64,
        batch_size: int = 32,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
        max_bad_fraction: float = 0.05,
        shuffle_buffer: int = 2048,
        num_parallel_calls: int | None = None,
        synthetic: Mapping[str, Any] | None = None,
        limit: int | None = None,
        augmentation: Augmenter | Mapping[str, Any] | None = None,
        region: Region = whole_image,
        faces: FaceSettings | Mapping[str, Any] | None = None,
        fakes: FakeSynthesizer | None = None,
    ):
        if root is None and manifest is None:
            raise DataError("DataModule needs data.root (a folder) or data.manifest (a CSV)")
        if image_size < 8 or batch_size < 1:
            raise DataError(
                f"image_size must be >= 8 pixels and batch_size >= 1; got {image_size} and "
                f"{batch_size}"
            )
        if not 0 <= max_bad_fraction <= 1:
            raise DataError(f"max_bad_fraction must be in [0, 1]; got {max_bad_fraction}")
        self.root = Path(root if root is not None else Path(str(manifest)).parent).expanduser()
        self.layout = "manifest" if manifest is not None else layout
        self.manifest = None if manifest is None else Path(manifest).expanduser()
        self.image_size = int(image_size)
        self.batch_size = int(batch_size)
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = int(seed)
        self.max_bad_fraction = max_bad_fraction
        self.shuffle_buffer = int(shuffle_buffer)
        self.num_parallel_calls = num_parallel_calls
        self.synthetic = None if synthetic is None else dict(synthetic)
        self.limit = limit
        self.augmentation = augmentation
        self.region = region
        self.faces = faces if isinstance(faces, FaceSettings) else FaceSettings.from_config(faces)
        if self.faces.enabled and region is not whole_image:
            raise DataError(
                "DataModule got both a region and faces settings with enabled=true; pass one: "
                "faces=crop crops each image to its face, region= any other part"
            )
        self.fakes = fakes
        self._face_regions: FaceRegions | None = None
        self._records: pd.DataFrame | None = None
        self._quarantine: pd.DataFrame | None = None
        self._duplicates: pd.DataFrame | None = None

    def __repr__(self) -> str:
        return (
            f"DataModule(root={str(self.root)!r}, layout={self.layout!r}, "
            f"image_size={self.image_size}, batch_size={self.batch_size}, seed={self.seed})"
        )

    # ------------------------------------------------------------------ setup
    def setup(self) -> DataModule:
        """Generate (synthetic only), discover, de-duplicate, scan, split, detect faces (with
        `faces`) and add virtual fake records (with `fakes`). Idempotent."""
        if self._records is not None:
            return self
        if self.synthetic is not None:
            # Generated at the model's input size unless told otherwise, so that resizing does
            # not move the artifacts away from the frequencies they were made at.
            generate_synthetic(self.root, **{"image_size": self.image_size, **self.synthetic})
        found = self._discover()
        found, duplicates = drop_duplicates(found)
        # Faces are detected after the scan, once per kept file: the scan checks the decode.
        good, quarantine = scan_images(found, self.max_bad_fraction, DATASET_LIMITS, self.region)
        records = assign_splits(good, self.val_fraction, self.test_fraction, self.seed)
        records = limit_per_split(records, self.limit)
        records, no_face = self._detect_faces(records)
        records = self._add_fakes(records)
        self._check(records)
        self._records = records.reset_index(drop=True)
        self._quarantine = pd.concat([quarantine, no_face], ignore_index=True)
        self._duplicates = duplicates
        self._log_setup()
        return self

    def _log_setup(self) -> None:
        records, quarantine = self.records, self._quarantine
        assert quarantine is not None and self._duplicates is not None
        log.info(
            "data: %d images (%s), %d quarantined, %d duplicates dropped, digest %s",
            len(records),
            ", ".join(f"{s} {n}" for s, n in records["split"].value_counts().items()),
            len(quarantine),
            len(self._duplicates),
            self.digest[:12],
        )
        for row in quarantine.itertuples(index=False):
            log.warning("skipped %s: %s (%s)", row.path, row.reason, row.detail)

    def _detect_faces(self, records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """With faces on: detect every file once, and the files left out for having no face
        (``on_missing: skip``), with reason ``no-face``; else the records unchanged."""
        empty = pd.DataFrame(columns=QUARANTINE_COLUMNS)
        if not self.faces.enabled:
            return records, empty
        regions = FaceRegions.detect(records["path"], self.faces)
        self._face_regions = regions
        if self.faces.on_missing != "skip":
            return records, empty
        faceless = records["path"].map(lambda path: regions.face_of(path) is None)
        skipped = pd.DataFrame(
            {"path": records.loc[faceless, "path"], "reason": "no-face"},
            columns=QUARANTINE_COLUMNS,
        ).assign(detail=no_face_reason(self.faces))
        return records[~faceless], skipped.reset_index(drop=True)

    def _add_fakes(self, records: pd.DataFrame) -> pd.DataFrame:
        """`records` plus the fakes group's virtual records (after de-duplication and
        splitting: they share their source's path and sha256)."""
        if self.fakes is None or not self.fakes.enabled:
            return records
        return self.fakes.extend_records(records)

    def _discover(self) -> pd.DataFrame:
        if self.manifest is None:
            return discover(self.root, self.layout)
        return discover_manifest(self.manifest)

    def _check(self, records: pd.DataFrame) -> None:
        counts = records.groupby(["split", "label"]).size()
        for split in SPLITS:
            if split not in records["split"].values:
                raise DataError(
                    f"the {split} split is empty ({len(records)} usable images in all); add "
                    "images, or set data.val_fraction / data.test_fraction above 0 so that "
                    f"hashing puts some in {split}"
                )
        for label, name in CLASS_NAMES.items():
            if counts.get(("train", label), 0) == 0:
                raise DataError(
                    f"the train split has no {name} images (label {label}); a detector needs "
                    f"both classes: add {name} images or check data.layout "
                    f"(found per split and label: {counts.to_dict()})"
                )
            for split in ("val", "test"):
                if counts.get((split, label), 0) == 0:
                    log.warning("the %s split has no %s images: ROC AUC is undefined", split, name)

    def _require_setup(self) -> pd.DataFrame:
        if self._records is None:
            raise DataError("call DataModule.setup() before asking for records or datasets")
        return self._records

    # ------------------------------------------------------------------ tables
    @property
    def records(self) -> pd.DataFrame:
        """Usable images: ``path, label, generator, split, sha256``; with `fakes`, also the
        virtual fake records (``synthetic`` True, ``fake_seed``) after the real rows."""
        return self._require_setup()

    @property
    def quarantine(self) -> pd.DataFrame:
        """Skipped files (``path, reason, detail``): unreadable ones, those without a face
        (reason ``no-face``), then dropped duplicates."""
        self._require_setup()
        return pd.concat([self._quarantine, self._duplicates], ignore_index=True)

    @property
    def digest(self) -> str:
        """sha256 over the sorted ``sha256,label,split`` rows: same digest, same data."""
        records = self._require_setup()
        lines = sorted(
            f"{h},{label},{split}"
            for h, label, split in zip(
                records["sha256"], records["label"], records["split"], strict=True
            )
        )
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def split_records(self, split: str) -> pd.DataFrame:
        """The records of one split (``train``, ``val`` or ``test``), in path order."""
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; available: {', '.join(SPLITS)}")
        records = self._require_setup()
        return records[records["split"] == split].reset_index(drop=True)

    def class_counts(self, split: str = "train") -> dict[int, int]:
        """Images per label in a split, e.g. for class weights: ``{0: n_real, 1: n_fake}``."""
        labels = self.split_records(split)["label"]
        return {label: int((labels == label).sum()) for label in CLASS_NAMES}

    # ---------------------------------------------------------------- datasets
    def _augmenter(self) -> Augmenter | None:
        from deepguard.data.augmentation import Augmenter

        augmentation = self.augmentation
        if augmentation is None:
            return None
        if isinstance(augmentation, Mapping):
            augmentation = Augmenter(**{k: v for k, v in augmentation.items() if k != "_target_"})
        if not callable(augmentation):
            raise DataError(
                f"data augmentation must be an Augmenter or its keyword arguments; got "
                f"{type(augmentation).__name__}"
            )
        return None if getattr(augmentation, "is_identity", False) else augmentation

    @property
    def loader_region(self) -> Region | FileRegions:
        """The region every dataset applies: each file's face crop with faces on (detected in
        `setup`; a file it did not see is detected on first use), else `region`."""
        if not self.faces.enabled:
            return self.region
        if self._face_regions is None:
            self._face_regions = FaceRegions.on_demand(self.faces)
        return self._face_regions

    def records_dataset(
        self,
        records: pd.DataFrame,
        *,
        training: bool = False,
        image_size: int | None = None,
        batch_size: int | None = None,
        perturbation: Perturbation | None = None,
    ) -> tf.data.Dataset:
        """Batches ``(images, labels)`` of any of this module's records, in order unless
        `training`: each file through its region, virtual records through their fakes.

        Args:
            records: rows of `records` (a split, a sample of one ...).
            training: shuffle every epoch, augment, and draw a new fake every epoch
                (``fakes.fresh_each_epoch``); otherwise the same fake from a record each pass.
            image_size: model input side in pixels (this module's by default).
            batch_size: images per batch (this module's by default).
            perturbation: applied to each decoded region before the resize (robustness).
        """
        from deepguard.data.pipeline import make_dataset

        size = image_size or self.image_size
        return make_dataset(
            records["path"].tolist(),
            records["label"].tolist(),
            image_size=size,
            batch_size=batch_size or self.batch_size,
            shuffle=training,
            shuffle_buffer=self.shuffle_buffer,
            augment=self._augmenter() if training else None,
            perturbation=perturbation,
            region=self.loader_region,
            num_parallel_calls=self.num_parallel_calls,
            seed=self.seed,
            fakes=self._synthesized_fakes(records, size, training),
        )

    def _synthesized_fakes(
        self, records: pd.DataFrame, image_size: int, training: bool
    ) -> SynthesizedFakes | None:
        """The virtual records among `records` for the loader; ``None`` when there are none."""
        from deepguard.data.pipeline import SynthesizedFakes
        from deepguard.fakes.stream import record_columns

        if self.fakes is None or not records.get("synthetic", pd.Series(dtype=bool)).any():
            return None
        _, _, generators, synthetic, seeds = record_columns(records)
        landmarks = None
        if self.faces.enabled:
            # SBI draws its mask from the face's landmarks, in the model input's pixels.
            regions = self.loader_region
            assert isinstance(regions, FaceRegions)
            landmarks = np.stack(
                [regions.model_landmarks(path, image_size) for path in records["path"]]
            )
        fresh = training and self.fakes.fresh_each_epoch
        return SynthesizedFakes(
            self.fakes.make_fake,
            generators,
            synthetic,
            seeds,
            landmarks,
            epoch_seed=self.fakes.seed if fresh else None,
        )

    def _dataset(self, split: str, training: bool) -> tf.data.Dataset:
        return self.records_dataset(self.split_records(split), training=training)

    def train_dataset(self) -> tf.data.Dataset:
        """Shuffled (every epoch) and augmented batches ``(images, labels)`` of train."""
        return self._dataset("train", training=True)

    def val_dataset(self) -> tf.data.Dataset:
        """Batches of val in `split_records("val")` order, not augmented."""
        return self._dataset("val", training=False)

    def test_dataset(self) -> tf.data.Dataset:
        """Batches of test in `split_records("test")` order, not augmented."""
        return self._dataset("test", training=False)

    def predict_dataset(self, paths: Sequence[str | os.PathLike]) -> tf.data.Dataset:
        """Batches of images only, in the order of `paths` (checked first: bad files raise)."""
        from deepguard.data.pipeline import make_dataset

        files = [str(Path(p).resolve()) for p in paths]
        region = self.loader_region
        checks = [check_image(p, DATASET_LIMITS, region) for p in files]
        bad = [f"{p}: {c.detail}" for p, c in zip(files, checks, strict=True) if c.reason]
        if bad:
            raise DataError(
                f"{len(bad)} of {len(files)} files cannot be decoded ({'; '.join(bad[:3])}); "
                "remove them from the list"
            )
        return make_dataset(
            files,
            None,
            image_size=self.image_size,
            batch_size=self.batch_size,
            region=region,
            num_parallel_calls=self.num_parallel_calls,
        )

    # ----------------------------------------------------------------- reports
    def summary(self) -> dict[str, Any]:
        """Counts per split, class and generator, plus what was skipped."""
        records = self._require_setup()
        assert self._quarantine is not None and self._duplicates is not None
        unreadable, duplicates = self._quarantine, self._duplicates
        named = records.assign(cls=records["label"].map(CLASS_NAMES))
        per_generator: dict[str, dict[str, dict[str, int]]] = {}
        counts = named.groupby(["split", "generator", "cls"]).size()
        for (split, generator, cls), n in counts.items():
            per_generator.setdefault(split, {}).setdefault(generator, {})[cls] = int(n)
        per_split = {
            split: {CLASS_NAMES[k]: v for k, v in self.class_counts(split).items()}
            for split in SPLITS
        }
        return {
            "root": str(self.root),
            "layout": self.layout,
            "digest": self.digest,
            "images": len(records),
            "per_split": per_split,
            "per_generator": per_generator,
            "quarantined": len(unreadable),
            "no_face": int((unreadable["reason"] == "no-face").sum()),
            "duplicates_dropped": len(duplicates),
            "synthesized_fakes": int(records.get("synthetic", pd.Series(dtype=bool)).sum()),
            "faces": self.faces.enabled,
            "image_size": self.image_size,
            "seed": self.seed,
        }

    def write_reports(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """Write ``quarantine.csv`` (every skipped file, with the reason) and
        ``data_summary.json``; return their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"quarantine": out / "quarantine.csv", "summary": out / "data_summary.json"}
        self.quarantine.to_csv(paths["quarantine"], index=False)
        paths["summary"].write_text(json.dumps(self.summary(), indent=2) + "\n")
        return paths
