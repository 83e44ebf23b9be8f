"""Virtual fake records: the right counts, kinds, splits and seeds, whatever the row order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from deepguard.fakes import (
    SEED_COLUMN,
    SYNTHETIC_COLUMN,
    FakeSynthesizer,
    SelfBlender,
    UpsamplingSimulator,
)

CONF = Path(__file__).resolve().parents[2] / "conf"


def records_table(n_real: dict[str, int], n_fake: int = 0) -> pd.DataFrame:
    """A records table like DataModule.records: reals per split, plus some dataset fakes."""
    rows = []
    for split, n in n_real.items():
        rows += [(f"/data/real/{split}_{i}.jpg", 0, "real", split) for i in range(n)]
    rows += [(f"/data/fake/{i}.jpg", 1, "stylegan2", "train") for i in range(n_fake)]
    table = pd.DataFrame(rows, columns=["path", "label", "generator", "split"])
    table["sha256"] = [hashlib.sha256(p.encode()).hexdigest() for p in table["path"]]
    table["decoder"] = "tf"
    return table


def mixed(ratio: float = 1.0, **kwargs) -> FakeSynthesizer:
    makers = {"sbi": SelfBlender(), "upsampling": UpsamplingSimulator()}
    return FakeSynthesizer(makers, {"sbi": 0.5, "upsampling": 0.5}, ratio=ratio, **kwargs)


def virtual(table: pd.DataFrame) -> pd.DataFrame:
    return table[table[SYNTHETIC_COLUMN]]


@pytest.mark.parametrize(("ratio", "expected"), [(1.0, 60), (0.5, 30), (0.25, 15), (2.0, 120)])
def test_ratio_is_synthesized_fakes_per_real_of_the_chosen_split(ratio, expected):
    table = records_table({"train": 60, "val": 20, "test": 20}, n_fake=7)
    extended = mixed(ratio).extend_records(table)
    fakes = virtual(extended)
    assert len(fakes) == expected
    assert (fakes["split"] == "train").all() and (fakes["label"] == 1).all()
    # The dataset's own rows are all kept, unchanged, and marked real-made.
    pd.testing.assert_frame_equal(extended.iloc[: len(table)][table.columns], table)
    assert not extended.iloc[: len(table)][SYNTHETIC_COLUMN].any()
    # Each virtual record points at a real training image; its seed is its own.
    sources = table.set_index("path")
    assert (sources.loc[fakes["path"], "label"] == 0).all()
    assert fakes[SEED_COLUMN].is_unique and (fakes[SEED_COLUMN] > 0).all()
    # Below 1, a real gives at most one fake; at 2, every real gives two different ones.
    per_real = fakes["path"].value_counts()
    assert per_real.max() == int(np.ceil(ratio))
    if ratio == 2.0:
        assert len(per_real) == 60 and (per_real == 2).all()


def test_a_real_only_dataset_becomes_balanced_with_exact_kind_counts():
    table = records_table({"train": 30, "val": 10, "test": 10})
    extended = mixed(1.0).extend_records(table)
    train = extended[extended["split"] == "train"]
    assert train["label"].value_counts().to_dict() == {0: 30, 1: 30}
    kinds = virtual(extended)["generator"].value_counts().to_dict()
    # Half SBI, half up-sampling shared over its three families: 15 + 5 + 5 + 5.
    assert kinds == {
        "sbi": 15,
        "upsampling-nearest": 5,
        "upsampling-bilinear": 5,
        "upsampling-transposed_conv": 5,
    }
    # Validation and test stay real data unless asked.
    held_out = extended[extended["split"] != "train"]
    assert (held_out["label"] == 0).all() and not held_out[SYNTHETIC_COLUMN].any()


def test_chosen_splits_get_fakes_too():
    table = records_table({"train": 10, "val": 8, "test": 6})
    extended = mixed(1.0, splits=["train", "val"]).extend_records(table)
    assert virtual(extended)["split"].value_counts().to_dict() == {"train": 10, "val": 8}


def test_choices_depend_on_content_and_seed_not_on_row_order():
    table = records_table({"train": 40, "val": 5, "test": 5})
    columns = ["path", "generator", SEED_COLUMN]

    def chosen(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
        fakes = virtual(mixed(0.5, seed=seed).extend_records(frame))[columns]
        return fakes.sort_values("path").reset_index(drop=True)

    shuffled = table.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(chosen(table, 0), chosen(shuffled, 0))
    assert not chosen(table, 0).equals(chosen(table, 1))


def test_no_fakes_adds_only_the_columns():
    table = records_table({"train": 5, "val": 2, "test": 2}, n_fake=3)
    extended = FakeSynthesizer({}, {}, ratio=0.0).extend_records(table)
    assert len(extended) == len(table) and not extended[SYNTHETIC_COLUMN].any()
    assert not FakeSynthesizer({}, {}, ratio=0.0).enabled


def test_bad_settings_fail_with_the_fix():
    with pytest.raises(ValueError, match="fakes=none"):
        FakeSynthesizer({"sbi": SelfBlender()}, {}, ratio=1.0)
    with pytest.raises(ValueError, match="unknown: \\['upsampling'\\]"):
        FakeSynthesizer({"sbi": SelfBlender()}, {"upsampling": 1.0})
    with pytest.raises(ValueError, match="available"):
        mixed(splits=["training"])
    with pytest.raises(ValueError, match=">= 0"):
        mixed(ratio=-1)
    with pytest.raises(TypeError, match="generators"):
        FakeSynthesizer({"sbi": "sbi"}, {"sbi": 1.0})
    with pytest.raises(ValueError, match="sha256"):
        mixed().extend_records(records_table({"train": 2}).drop(columns="sha256"))


def fakes_choices() -> list[str]:
    return sorted(path.stem for path in (CONF / "fakes").glob("*.yaml"))


@pytest.mark.parametrize("choice", fakes_choices())
def test_every_fakes_choice_builds_its_synthesizer(choice):
    # Composed beside a top-level seed, as conf/train.yaml's defaults hold it.
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose(overrides=[f"+fakes={choice}", "+seed=7"])
    fakes = instantiate(cfg.fakes, _convert_="all")
    assert isinstance(fakes, FakeSynthesizer)
    assert fakes.seed == 7 and fakes.splits == ["train"]
    assert fakes.enabled == (choice != "none")
    expected = {
        "none": set(),
        "sbi": {"sbi"},
        "upsampling": {"upsampling-nearest", "upsampling-bilinear", "upsampling-transposed_conv"},
    }
    expected["mixed"] = expected["sbi"] | expected["upsampling"]
    assert set(fakes.generator_shares) == expected[choice]
    assert sum(fakes.generator_shares.values()) == pytest.approx(1.0 if fakes.enabled else 0)
