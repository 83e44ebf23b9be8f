"""The real app in a real browser: `streamlit run` on loopback, driven by headless Chromium.

Uses the system's Chromium (Debian package `chromium`) through Playwright; no browser is
downloaded. Skips when either is missing. Set ``DEEPGUARD_APP_SCREENSHOT=<path.png>`` to keep
the screenshot (the README's picture is made this way).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.app.helpers import APP_DIR, load_bad_inputs
from tests.helpers.servers import free_port
from tests.helpers.zoo import ZooEntry

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# One single-scale model and one multi-scale one (VGG16 blocks 3-5 pooled), the project's
# recommended recipe: Grad-CAM must explain both in the real page.
ENTRIES = (ZooEntry("experiment", "quick"), ZooEntry("experiment", "vgg16_hed_probe"))


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout_s} s")


@pytest.fixture
def models(zoo_env) -> list[str]:
    """The app's labels of the two zoo models, trained and registered."""
    return zoo_env(*ENTRIES)


@pytest.fixture
def served_app(models, tmp_path):
    """`streamlit run app/Home.py` on 127.0.0.1, pointed at the zoo's store."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(APP_DIR.parent))
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_DIR / "Home.py"),
        "--server.headless=true",
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--server.fileWatcherType=none",
        "--browser.gatherUsageStats=false",
        "--client.toolbarMode=viewer",
    ]
    log = (tmp_path / "streamlit.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.slow
def test_compare_two_models_on_an_upload_in_chromium(served_app, models, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip("no system Chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    upload = tmp_path / "face.jpg"
    load_bad_inputs().face_like_image(300, 300).save(upload, "JPEG", quality=92)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 2000})
            page.goto(f"{served_app}/Compare", timeout=60_000)
            picker = page.get_by_test_id("stMultiSelect").first
            picker.wait_for(timeout=120_000)
            # Choose the two models by hand: clear the defaults, type each name, pick it.
            picker.get_by_role("button", name="Clear all").click()
            for model in models:
                picker.get_by_role("combobox").fill(model)
                page.get_by_role("option", name=model).click()
            page.keyboard.press("Escape")
            page.locator("input[type=file]").set_input_files(str(upload))
            for model in models:
                page.get_by_text(f"P(fake) · {model}").wait_for(timeout=120_000)
            page.get_by_text("Grad-CAM: where the model sees").nth(1).wait_for(timeout=60_000)
            page.get_by_text("1D azimuthal profile").wait_for(timeout=60_000)
            page.wait_for_timeout(1000)  # let the images finish painting
            shot = tmp_path / "app-compare.png"
            # The main column only: the sidebar shows the (temporary) store path.
            page.get_by_test_id("stMainBlockContainer").screenshot(path=str(shot))
            metrics = page.get_by_test_id("stMetric").all_inner_texts()
        finally:
            browser.close()
    assert len(metrics) == 2
    for text, model in zip(metrics, models, strict=True):
        assert model in text
        assert 0.0 <= float(text.split()[-1]) <= 1.0
    assert shot.stat().st_size > 10_000
    target = os.environ.get("DEEPGUARD_APP_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
