"""`.keras` files whose bytes depend on the model alone, not on when or where it was saved."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

# The earliest time a zip entry can carry; Keras already dates its JSON entries so.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
METADATA_ENTRY = "metadata.json"
CONFIG_ENTRY = "config.json"
SHARED_ID = "shared_object_id"


def normalize_keras_file(path: str | os.PathLike) -> Path:
    """Rewrite a `.keras` archive in place so that the same model gives the same bytes.

    `model.save` stamps the save time twice (``date_saved`` in ``metadata.json``, the
    modification time of the ``model.weights.h5`` entry) and numbers the objects layers share
    (their dtype policy) by memory address (``shared_object_id`` in ``config.json``). The
    times go and the ids are renumbered in order of appearance; the Keras version, the
    weights and everything else stay, so the file loads exactly as before. A pipeline stage
    that saves the same weights twice then writes the same file (and DVC records the same
    hash), wherever and whenever it runs.

    Args:
        path: a `.keras` file written by `keras.Model.save`.

    Returns:
        ``path``.

    Example:
        >>> model.save("model.keras"); normalize_keras_file("model.keras")  # doctest: +SKIP
    """
    path = Path(path)
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    scratch = path.with_name(f".{path.name}.normalizing")
    with zipfile.ZipFile(scratch, "w") as target:
        for info, data in entries:
            if info.filename == METADATA_ENTRY:
                metadata = json.loads(data)
                metadata.pop("date_saved", None)
                data = json.dumps(metadata, sort_keys=True).encode()
            elif info.filename == CONFIG_ENTRY:
                data = json.dumps(_renumber_shared_objects(json.loads(data))).encode()
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            entry.compress_type = info.compress_type
            entry.create_system = 3  # Unix, so that external_attr reads the same everywhere
            entry.external_attr = 0o644 << 16  # rw-r--r--, whatever the saving umask was
            target.writestr(entry, data)
    scratch.replace(path)
    return path


def _renumber_shared_objects(config):
    """Replace memory addresses in ``shared_object_id`` by 1, 2, 3 ... in order of appearance.

    Keras only compares these ids with each other when it loads, so any one-to-one renaming
    keeps the sharing; order of appearance makes the renaming the same in every process.
    """
    numbers: dict[int, int] = {}
    pending = [config]
    while pending:  # depth first, in the order the JSON lists keys and items
        node = pending.pop()
        if isinstance(node, dict):
            if SHARED_ID in node:
                node[SHARED_ID] = numbers.setdefault(node[SHARED_ID], len(numbers) + 1)
            pending.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            pending.extend(reversed(node))
    return config
