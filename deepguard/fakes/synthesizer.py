"""`FakeSynthesizer`: which real images get a synthesized fake, of which kind, and its pixels.

The seam with a dataset is a records table (one row per image: ``path, label, generator,
split, sha256, ...``, as `DataModule.records` holds it):

1. `FakeSynthesizer.extend_records(records)` adds *virtual records*: for a real image of a
   chosen split, a row with the same path, ``label = 1``, ``generator`` = the kind of fake
   (``sbi``, ``upsampling-nearest`` ...), ``synthetic = True`` and a ``fake_seed``. Real
   rows get ``synthetic = False``. Nothing is decoded and nothing is held but the table.
2. The loader decodes every row from its path as usual, and for a virtual row passes the
   decoded image to `FakeSynthesizer.make_fake(image, generator, seed, landmarks)` (inside
   `tf.data`: `FakeSynthesizer.apply`, see `deepguard.fakes.stream`).

``ratio`` is the number of synthesized fakes per real image of each chosen split: 1.0 turns
a folder of real photos into a balanced set; 0.5 adds half as many fakes as there are reals;
2.0 makes two different fakes from every real. Which reals get one, and the kind of each, is
decided by content hash and the seed, so it does not depend on file names or listing order,
and the counts are exact (largest remainder over the kinds' shares).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from deepguard.data.splits import SPLITS
from deepguard.fakes.masks import check_landmarks

if TYPE_CHECKING:
    import tensorflow as tf

SYNTHETIC_COLUMN = "synthetic"  # True on virtual records, whose pixels are made on the fly
SEED_COLUMN = "fake_seed"  # int64 seed of a virtual record's fake (0 on real rows)
_REQUIRED_COLUMNS = ("path", "label", "generator", "split", "sha256")


@runtime_checkable
class FakeMaker(Protocol):
    """What a kind of fake provides: its generator names and a pixel function."""

    kind: str

    @property
    def generators(self) -> tuple[str, ...]: ...

    def __call__(
        self,
        image: np.ndarray,
        rng: np.random.Generator,
        generator: str,
        landmarks: np.ndarray | None = None,
    ) -> np.ndarray: ...


def _hash64(*parts: object) -> int:
    """A non-negative 63-bit integer fixed by `parts` (fits int64 for tf.data)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _largest_remainder(total: int, shares: Mapping[str, float]) -> dict[str, int]:
    """Split `total` into integer counts proportional to `shares`, summing to `total`."""
    weight = sum(shares.values())
    exact = {name: total * share / weight for name, share in shares.items()}
    counts = {name: math.floor(value) for name, value in exact.items()}
    by_remainder = sorted(exact, key=lambda name: counts[name] - exact[name])
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def _seed_entropy(seed: object) -> list[int]:
    """Non-negative integers for `numpy.random.default_rng` from an int or an int array."""
    return [int(s) % 2**64 for s in np.ravel(np.asarray(seed, dtype=np.int64))]


class FakeSynthesizer:
    """Synthesized training fakes from real images: which, of which kind, and their pixels.

    Args:
        makers: ``{name: maker}``, e.g. ``{"sbi": SelfBlender()}``; each maker has a
            ``generators`` tuple and is called as ``maker(image, rng, generator, landmarks)``.
        shares: ``{name: share}`` of the synthesized fakes per maker (normalized; a maker's
            share is split evenly over its generators); missing makers get none.
        ratio: synthesized fakes per real image of each split in `splits` (>= 0).
        splits: the splits that get synthesized fakes; the others stay real data.
        seed: decides which reals get fakes, their kinds and their pixels.
        fresh_each_epoch: a new fake from each virtual record every epoch (repeatable from
            `seed`) instead of the same one; read by `apply`.

    Example:
        >>> from deepguard.fakes import SelfBlender
        >>> fakes = FakeSynthesizer({"sbi": SelfBlender()}, {"sbi": 1.0}, ratio=1.0)
        >>> records = fakes.extend_records(records)        # doctest: +SKIP
    """

    def __init__(
        self,
        makers: Mapping[str, FakeMaker] | None = None,
        shares: Mapping[str, float] | None = None,
        ratio: float = 1.0,
        splits: Sequence[str] = ("train",),
        seed: int = 0,
        fresh_each_epoch: bool = True,
    ):
        self.makers = dict(makers or {})
        self.shares = {str(k): float(v) for k, v in (shares or {}).items() if float(v) != 0}
        self.ratio = float(ratio)
        self.splits = [str(s) for s in splits]
        self.seed = int(seed)
        self.fresh_each_epoch = bool(fresh_each_epoch)
        self._check()
        self._maker_of = {
            generator: maker
            for name, maker in self.makers.items()
            if name in self.shares
            for generator in maker.generators
        }

    def _check(self) -> None:
        for name, maker in self.makers.items():
            if not isinstance(maker, FakeMaker):
                raise TypeError(
                    f"fakes maker {name!r} must have `generators` and be callable as "
                    f"maker(image, rng, generator, landmarks); got {type(maker).__name__}"
                )
        unknown = sorted(set(self.shares) - set(self.makers))
        if unknown or any(share < 0 for share in self.shares.values()):
            raise ValueError(
                f"fakes shares {self.shares} must be >= 0 and name configured makers "
                f"({sorted(self.makers)}); unknown: {unknown}"
            )
        if not (self.ratio >= 0 and math.isfinite(self.ratio)):
            raise ValueError(f"fakes ratio must be a number >= 0; got {self.ratio!r}")
        if self.ratio > 0 and not self.shares:
            raise ValueError(
                f"fakes ratio is {self.ratio} but no maker has a share; give one in fakes.shares "
                f"(makers: {sorted(self.makers)}) or choose fakes=none"
            )
        bad_splits = sorted(set(self.splits) - set(SPLITS))
        if bad_splits:
            raise ValueError(f"unknown fakes splits {bad_splits}; available: {list(SPLITS)}")

    def __repr__(self) -> str:
        return (
            f"FakeSynthesizer(shares={self.shares}, ratio={self.ratio}, splits={self.splits}, "
            f"seed={self.seed}, fresh_each_epoch={self.fresh_each_epoch}, makers={self.makers})"
        )

    @property
    def enabled(self) -> bool:
        """True when it adds any fakes (``ratio > 0`` and some maker has a share)."""
        return self.ratio > 0 and bool(self._maker_of)

    @property
    def generator_shares(self) -> dict[str, float]:
        """``{generator: share}`` of the synthesized fakes, summing to 1 (empty when off)."""
        total = sum(self.shares.values())
        return {
            generator: self.shares[name] / total / len(self.makers[name].generators)
            for name in self.shares
            for generator in self.makers[name].generators
        }

    def extend_records(self, records: pd.DataFrame) -> pd.DataFrame:
        """`records` plus a virtual fake record for the chosen real images of each split.

        Call it after de-duplication and splitting: virtual records share their source's
        path and sha256, so content-hash de-duplication would drop them.

        Args:
            records: ``path, label, generator, split, sha256`` (other columns are copied).

        Returns:
            A new table: the input rows (``synthetic = False``, ``fake_seed = 0``), then the
            virtual records (``label = 1``, ``generator`` = the fake's kind,
            ``synthetic = True``, a ``fake_seed`` unique to the record).
        """
        missing = [c for c in _REQUIRED_COLUMNS if c not in records.columns]
        if missing:
            raise ValueError(
                f"records need the columns {list(_REQUIRED_COLUMNS)} to add synthesized "
                f"fakes; missing {missing} (got {list(records.columns)})"
            )
        given = records.assign(**{SYNTHETIC_COLUMN: False, SEED_COLUMN: np.int64(0)})
        if not self.enabled:
            return given.reset_index(drop=True)
        virtual = [self._virtual_records(given, split) for split in self.splits]
        return pd.concat([given, *virtual], ignore_index=True)

    def _virtual_records(self, records: pd.DataFrame, split: str) -> pd.DataFrame:
        reals = records[(records["split"] == split) & (records["label"] == 0)]
        total = round(self.ratio * len(reals))
        if total == 0:
            return records.iloc[:0]
        # Variant v is the v-th fake made from one real (ratio > 1 makes several).
        variants = []
        for variant in range(math.ceil(self.ratio)):
            order = reals["sha256"].map(lambda h, v=variant: _hash64(self.seed, "pick", h, v))
            variants.append(reals.assign(_variant=variant, _order=order).sort_values("_order"))
        chosen = pd.concat(variants).iloc[:total]
        keys = [(h, v) for h, v in zip(chosen["sha256"], chosen["_variant"], strict=True)]
        fake_seeds = [_hash64(self.seed, "pixels", h, v) for h, v in keys]
        kind_order = np.argsort([_hash64(self.seed, "kind", h, v) for h, v in keys], kind="stable")
        counts = _largest_remainder(total, self.generator_shares)
        generators = np.repeat(list(counts), list(counts.values()))
        assigned = np.empty(total, dtype=object)
        assigned[kind_order] = generators
        virtual = chosen.drop(columns=["_variant", "_order"]).assign(
            label=1, generator=assigned, **{SYNTHETIC_COLUMN: True}
        )
        virtual[SEED_COLUMN] = np.asarray(fake_seeds, dtype=np.int64)
        return virtual

    def make_fake(
        self,
        image: np.ndarray,
        generator: str | bytes,
        seed: int | Sequence[int] | np.ndarray,
        landmarks: np.ndarray | None = None,
    ) -> np.ndarray:
        """The fake of one virtual record, from its decoded real image.

        Args:
            image: ``(H, W, 3)`` RGB, uint8 or float in ``[0, 255]`` (e.g. after resizing to
                the model input: up-sampling traces are made at the resolution they get).
            generator: the record's generator, one this synthesizer makes.
            seed: the record's ``fake_seed``, or several integers (seed and epoch draw);
                the same seed gives the same fake.
            landmarks: ``(5, 2)`` ``(x, y)`` pixels of the face in `image`, or ``None`` /
                all NaN for none (SBI then uses a face ellipse).

        Returns:
            The fake, same shape and dtype as `image`: uint8 rounded, floats not rounded
            (so that the fakes are not the only integer-valued images of a float pipeline).
        """
        name = generator.decode() if isinstance(generator, bytes) else str(generator)
        maker = self._maker_of.get(name)
        if maker is None:
            raise ValueError(
                f"this synthesizer makes no {name!r} fakes; it makes {sorted(self._maker_of)}"
            )
        pixels = np.asarray(image)
        if pixels.ndim != 3 or pixels.shape[-1] != 3:
            raise ValueError(f"expected one RGB image (H, W, 3); got shape {pixels.shape}")
        rng = np.random.default_rng(_seed_entropy(seed))
        fake = maker(pixels.astype(np.float64), rng, name, check_landmarks(landmarks))
        fake = np.clip(fake, 0.0, 255.0)
        if pixels.dtype == np.uint8:
            return np.round(fake).astype(np.uint8)
        return fake.astype(pixels.dtype)

    def apply(self, dataset: tf.data.Dataset, num_parallel_calls: int | None = None):
        """`deepguard.fakes.stream.synthesize_fakes` with this synthesizer's settings."""
        from deepguard.fakes.stream import synthesize_fakes

        return synthesize_fakes(
            dataset,
            self.make_fake,
            epoch_seed=self.seed if self.fresh_each_epoch else None,
            num_parallel_calls=num_parallel_calls,
        )
