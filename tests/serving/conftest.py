import importlib.util
import sys
from pathlib import Path

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
