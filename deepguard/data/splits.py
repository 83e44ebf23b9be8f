"""Deterministic train/val/test splits by content hash, and duplicate handling.

A file's split depends only on its bytes and the seed, never on its name, its folder or the
order the files were listed in: re-running on a copied, renamed or grown dataset keeps every
file where it was, and identical files always share one split, so a duplicate can never
leak from train into test.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from deepguard.errors import DataError

SPLITS = ("train", "val", "test")
_SPLIT_PRIORITY = {"test": 0, "val": 1, "train": 2}  # a duplicate goes where it is held out


def _unit_interval(sha256: str, seed: int, salt: str) -> float:
    """A uniform number in [0, 1) fixed by a file's content hash, the seed and a salt."""
    digest = hashlib.sha256(f"{seed}:{salt}:{sha256}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must each be in "
            "[0, 1) and sum to less than 1 so that train keeps some images; "
            "set data.val_fraction and data.test_fraction, e.g. 0.15 and 0.15"
        )


def assign_splits(
    df: pd.DataFrame, val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0
) -> pd.DataFrame:
    """Give every record a split; rows the layout already split keep theirs.

    Rules, in order:
      1. All files with the same sha256 share one split: the most held-out one any copy was
         given by the layout (test, then val, then train).
      2. Files with no split get one by hashing their content with the seed:
         ``test_fraction`` of them go to test, ``val_fraction`` to val, the rest to train.
      3. When the layout gave a train split but no val (GenImage, CIFAKE-like folders),
         ``val_fraction`` of the train files move to val, chosen by content hash.

    Args:
        df: records with at least ``sha256`` and ``split`` (None/NaN where unknown).
        val_fraction: share of unsplit files (or of train, rule 3) that go to validation.
        test_fraction: share of unsplit files that go to test.
        seed: changes which files land where; same seed, same files -> same splits.

    Returns:
        A copy of `df` with ``split`` filled in.
    """
    _check_fractions(val_fraction, test_fraction)
    out = df.copy()
    if out.empty:
        return out
    if out["sha256"].isna().any():
        raise DataError(
            "assign_splits needs a sha256 for every record; drop unreadable files first "
            "(scan_images quarantines them)"
        )
    given = out["split"].where(out["split"].isin(SPLITS))
    # Rule 1: one split per content hash, the most held-out one any copy was given.
    priority = given.map(_SPLIT_PRIORITY)
    best = priority.groupby(out["sha256"]).transform("min")
    by_priority = {value: split for split, value in _SPLIT_PRIORITY.items()}
    split = best.map(by_priority)
    # Rule 2: hash the rest.
    unsplit = split.isna()
    draws = out.loc[unsplit, "sha256"].map(lambda h: _unit_interval(h, seed, "split"))
    split.loc[unsplit] = [
        "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"
        for u in draws
    ]
    # Rule 3: carve val from a layout-given train when the layout has no val at all.
    layout_train = given.eq("train") & split.eq("train")
    if layout_train.any() and not given.eq("val").any() and val_fraction > 0:
        carve = out.loc[layout_train, "sha256"].map(
            lambda h: _unit_interval(h, seed, "val-from-train") < val_fraction
        )
        split.loc[carve[carve].index] = "val"
    out["split"] = split.astype(str)
    return out


def drop_duplicates(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep one file per content hash; return ``(kept, dropped)``.

    The kept copy is the first by path. Copies carrying both labels are all dropped: the
    dataset contradicts itself, and keeping either copy would teach the wrong answer half
    the time. ``dropped`` has the columns ``path`` and ``reason``. Rows without a sha256
    (unreadable files) are kept for the corruption scan to report.
    """
    readable = df[df["sha256"].notna()].sort_values("path", kind="stable")
    conflicting = readable.groupby("sha256")["label"].transform("nunique") > 1
    copies = readable[~conflicting].duplicated("sha256", keep="first")
    first_path = readable[~conflicting].drop_duplicates("sha256").set_index("sha256")["path"]
    dropped = pd.concat(
        [
            pd.DataFrame(
                {
                    "path": readable.loc[conflicting, "path"],
                    "reason": "same content is labelled both real and fake; fix the labels",
                }
            ),
            pd.DataFrame(
                {
                    "path": readable[~conflicting].loc[copies, "path"],
                    "reason": "duplicate of "
                    + readable[~conflicting].loc[copies, "sha256"].map(first_path),
                }
            ),
        ],
        ignore_index=True,
    )
    kept = df[~df["path"].isin(dropped["path"])].reset_index(drop=True)
    return kept, dropped


def limit_per_split(df: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """At most `limit` records per split, a deterministic sample (the lowest content hashes)."""
    if limit is None:
        return df
    return (
        df.sort_values(["split", "sha256"], kind="stable")
        .groupby("split", sort=False)
        .head(limit)
        .sort_values("path", kind="stable")
        .reset_index(drop=True)
    )
