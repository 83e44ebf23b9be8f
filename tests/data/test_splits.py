import hashlib

import pandas as pd
import pytest

from deepguard.data import assign_splits, drop_duplicates
from deepguard.errors import DataError


def records(n: int, split=None, dup_every: int = 0) -> pd.DataFrame:
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]
    if dup_every:  # every dup_every-th file is a copy of the one before it
        hashes = [hashes[i - 1] if i % dup_every == 0 and i else h for i, h in enumerate(hashes)]
    return pd.DataFrame(
        {
            "path": [f"/d/{i:04d}.png" for i in range(n)],
            "label": [i % 2 for i in range(n)],
            "generator": "unknown",
            "split": split,
            "sha256": hashes,
        }
    )


def test_hash_split_is_deterministic_and_close_to_the_fractions():
    df = records(2000)
    first = assign_splits(df, 0.15, 0.15, seed=3)
    again = assign_splits(df.sample(frac=1, random_state=1), 0.15, 0.15, seed=3)
    assert first.set_index("path")["split"].equals(again.set_index("path")["split"].sort_index())
    shares = first["split"].value_counts(normalize=True)
    assert shares["test"] == pytest.approx(0.15, abs=0.03)
    assert shares["val"] == pytest.approx(0.15, abs=0.03)
    other_seed = assign_splits(df, 0.15, 0.15, seed=4)
    assert (other_seed["split"] != first["split"]).mean() > 0.1


def test_identical_files_never_straddle_splits():
    df = records(600, dup_every=3)
    # The layout put some copies in train and others in test: test wins for all copies.
    df.loc[df.index % 3 == 0, "split"] = "test"
    df.loc[df.index % 3 == 2, "split"] = "train"
    out = assign_splits(df, 0.2, 0.2, seed=0)
    assert (out.groupby("sha256")["split"].nunique() == 1).all()
    copies = out[out["sha256"].duplicated(keep=False)]
    assert (copies["split"] == "test").any()


def test_val_is_carved_from_a_layout_train_when_the_layout_has_no_val():
    df = records(1000, split="train")
    df.loc[df.index >= 800, "split"] = "test"
    out = assign_splits(df, 0.2, 0.1, seed=0)
    assert (out.loc[800:, "split"] == "test").all()
    shares = out.loc[:799, "split"].value_counts(normalize=True)
    assert shares["val"] == pytest.approx(0.2, abs=0.05)


def test_bad_fractions_say_how_to_fix():
    with pytest.raises(DataError, match=r"data\.val_fraction and data\.test_fraction"):
        assign_splits(records(10), 0.6, 0.5, 0)


def test_drop_duplicates_keeps_the_first_copy_and_drops_contradictions():
    df = records(6)  # labels 0, 1, 0, 1, 0, 1
    df.loc[1, "sha256"] = df.loc[0, "sha256"]  # one content labelled real and fake
    df.loc[4, "sha256"] = df.loc[2, "sha256"]  # a plain copy, both real
    kept, dropped = drop_duplicates(df)
    assert sorted(kept["path"]) == ["/d/0002.png", "/d/0003.png", "/d/0005.png"]
    reasons = dropped.set_index("path")["reason"]
    assert reasons["/d/0004.png"] == "duplicate of /d/0002.png"
    assert "both real and fake" in reasons["/d/0000.png"]
    assert "both real and fake" in reasons["/d/0001.png"]
