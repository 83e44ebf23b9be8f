"""Streaming http(s) download with a size cap, a progress bar and a running sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlparse

import requests
from tqdm.auto import tqdm

from deepguard.errors import DataError

CHUNK = 1 << 20  # 1 MiB


def download(
    url: str,
    target: str | Path,
    *,
    max_bytes: int = 64 * 2**30,
    timeout_s: float = 60.0,
    progress: bool = True,
) -> str:
    """Stream ``url`` into the file ``target``; return the sha256 of what was written.

    Args:
        url: an ``http://`` or ``https://`` address.
        target: file to write (its folder must exist).
        max_bytes: the download stops with ``DataError`` past this many bytes.
        timeout_s: seconds to wait for the connection and between received chunks.
        progress: show a progress bar.
    """
    scheme = urlparse(url).scheme
    if scheme not in ("http", "https"):
        raise DataError(f"only http:// and https:// URLs can be downloaded; got {url!r}")
    digest = hashlib.sha256()
    received = 0
    try:
        with requests.get(url, stream=True, timeout=timeout_s) as response:
            if response.status_code != 200:
                raise DataError(
                    f"downloading {url} answered HTTP {response.status_code} {response.reason}; "
                    "check the address, or fetch the file yourself and ingest it as a local "
                    "archive"
                )
            announced = int(response.headers.get("Content-Length") or 0)
            if announced > max_bytes:
                raise DataError(
                    f"{url} is {announced} bytes, over the cap of {max_bytes}; raise "
                    "ingest.max_download_bytes if that is expected"
                )
            with (
                open(target, "wb") as sink,
                tqdm(
                    total=announced or None,
                    unit="B",
                    unit_scale=True,
                    desc=f"download {Path(urlparse(url).path).name or url}",
                    disable=not progress,
                ) as bar,
            ):
                for chunk in response.iter_content(chunk_size=CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise DataError(
                            f"{url} sent more than the cap of {max_bytes} bytes; raise "
                            "ingest.max_download_bytes if that is expected"
                        )
                    digest.update(chunk)
                    sink.write(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as error:
        raise DataError(
            f"cannot download {url}: {error}. Check the address and the network, or fetch "
            "the file yourself and ingest it as a local archive"
        ) from error
    return digest.hexdigest()
