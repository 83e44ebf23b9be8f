"""The two classes a detector tells apart, and the words a manifest may name them with."""

from __future__ import annotations

# Label -> class name: 1 is the positive class (AI-generated) everywhere.
CLASS_NAMES = {0: "real", 1: "fake"}
# What a manifest's label column may hold, compared in lower case.
LABEL_WORDS = {"0": 0, "1": 1, "real": 0, "fake": 1}


def parse_label(value: object) -> int | None:
    """0 or 1 for ``0``/``real``/``1``/``fake`` (any case, ``1.0`` too), else None."""
    word = str(value).strip().lower()
    if word.endswith(".0"):  # pandas reads a column with gaps as floats
        word = word[:-2]
    return LABEL_WORDS.get(word)
