import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

# The bad-input generator lives beside the images tests; both suites use the same cases.
_CASES = Path(__file__).parents[1] / "images" / "bad_inputs.py"
if "bad_inputs" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("bad_inputs", _CASES)
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["bad_inputs"] = _module
    _spec.loader.exec_module(_module)


def build_tiny_detector(path: Path, image_size: int = 64) -> Path:
    """Input(S, S, 3) -> Rescaling -> Conv2D -> GAP -> Dense(1, sigmoid), saved as .keras."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_fake")(x)
    keras.Model(inputs, outputs).save(path)
    return path


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    return build_tiny_detector(tmp_path_factory.mktemp("model") / "tiny.keras")


@pytest.fixture(scope="session")
def cached_loader():
    """The project's loader, remembering what it loaded: each test builds its own app
    without paying for a model load."""
    from deepguard.tracking.loading import load_model

    loaded = {}

    def load(uri):
        if uri not in loaded:
            loaded[uri] = load_model(uri)
        return loaded[uri]

    return load


@pytest.fixture
def make_app(model_path, cached_loader):
    from deepguard.serving import ServeSettings, create_app

    def make(loader=cached_loader, **overrides):
        settings = ServeSettings(
            model_uri=str(overrides.pop("model_uri", model_path)),
            load_in_background=overrides.pop("load_in_background", False),
            **overrides,
        )
        app = create_app(settings, loader=loader)
        app.testing = True
        return app

    return make


@pytest.fixture
def client(make_app):
    return make_app().test_client()


def _standin_log_magnitude_spectrum(images):
    gray = np.asarray(images, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(gray), axes=(-2, -1)))).astype(np.float32)


def _standin_azimuthal_profile(images):
    spectrum = _standin_log_magnitude_spectrum(images)
    height, width = spectrum.shape[1:]
    y, x = np.indices((height, width))
    radius = np.hypot(y - height // 2, x - width // 2).astype(int).ravel()
    counts = np.bincount(radius)
    return np.stack([np.bincount(radius, s.ravel()) / counts for s in spectrum]).astype(np.float32)


@pytest.fixture
def spectral(monkeypatch):
    """`deepguard.spectral` if it is there; until it lands, a stand-in for this test only."""
    try:
        import deepguard.spectral as module
    except ImportError:
        import deepguard

        module = types.ModuleType("deepguard.spectral")
        module.log_magnitude_spectrum = _standin_log_magnitude_spectrum
        module.azimuthal_profile = _standin_azimuthal_profile
        monkeypatch.setitem(sys.modules, "deepguard.spectral", module)
        monkeypatch.setattr(deepguard, "spectral", module, raising=False)
    return module
