"""AppTest helpers shared by the app's tests."""

from __future__ import annotations

from pathlib import Path

APP_DIR = Path(__file__).resolve().parents[2] / "app"


def page(path: str | None = None, timeout: float = 180):
    """An AppTest of the app's entry, switched to `path` (``pages/1_Compare.py``) when given."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_DIR / "Home.py"), default_timeout=timeout)
    if path:
        at.switch_page(path)
    return at


def texts(elements) -> list[str]:
    """The text of every element of an AppTest element list (markdown, error, info ...)."""
    return [str(element.value) for element in elements]


def images(at) -> list:
    """Every st.image / st.pyplot element of the page (AppTest has no attribute for them)."""
    return list(at.get("image"))


def image_captions(at) -> list[str]:
    return [caption for element in images(at) for caption in element.captions]


def load_bad_inputs():
    """The bad-input table shared with the images and serving tests (a module loaded by path)."""
    import importlib.util
    import sys

    path = APP_DIR.parent / "tests" / "images" / "bad_inputs.py"
    spec = importlib.util.spec_from_file_location("app_tests_bad_inputs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module
