from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from deepguard.config.compose import compose_config
from deepguard.images import DecodeLimits
from deepguard.serving.wsgi import serve, split_config

CONF = Path(__file__).parents[2] / "conf"


@pytest.fixture
def compose_serve(tmp_path):
    """The resolved conf/serve.yaml with overrides, as scripts/serve.py gets it."""

    def compose(*overrides: str) -> dict:
        base = ["model=outputs/run/model.keras", "port=9001"]
        cfg = compose_config(CONF, "serve", [*base, *overrides], tmp_path)
        return OmegaConf.to_container(cfg, resolve=True)

    yield compose
    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None


@pytest.fixture
def serve_cfg(compose_serve):
    return compose_serve()


def test_serve_yaml_builds_settings_and_server_options(serve_cfg):
    settings, server = split_config(serve_cfg)
    assert settings.model_uri == "outputs/run/model.keras"
    assert settings.max_batch == serve_cfg["max_batch"]
    assert settings.limits == DecodeLimits(
        **{**serve_cfg["limits"], "allowed_formats": tuple(serve_cfg["limits"]["allowed_formats"])}
    )
    assert (
        server["port"] == 9001 and server["host"] == "127.0.0.1" and server["server"] == "gunicorn"
    )


def test_every_serve_yaml_key_is_commented():
    for line in (CONF / "serve.yaml").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and ":" in line:
            assert "#" in line, f"uncommented key: {line}"


def test_missing_model_and_unknown_keys_fail_with_the_fix(serve_cfg):
    with pytest.raises(ValueError, match="model_uri is required"):
        split_config({**serve_cfg, "model": None})
    with pytest.raises(ValueError, match=r"unknown serving settings \['max_batchh'\]"):
        split_config({**serve_cfg, "max_batchh": 3})


def test_unknown_server_kind_is_refused(serve_cfg):
    settings, _ = split_config(serve_cfg)
    with pytest.raises(ValueError, match="gunicorn or flask"):
        serve(settings, server="uwsgi")


def test_faces_default_to_the_model_and_are_chosen_with_the_faces_group(compose_serve, tmp_path):
    from deepguard.config.faces import FaceSettings
    from deepguard.errors import ConfigError

    assert "faces" not in compose_serve() and split_config(compose_serve())[0].faces is None
    assert split_config(compose_serve("faces=none"))[0].faces == FaceSettings(enabled=False)
    crop = split_config(compose_serve("faces=crop", "faces.margin=0.4"))[0].faces
    assert crop.enabled and crop.margin == 0.4
    assert crop.cache_dir == str(tmp_path / "data" / "faces-cache")
    with pytest.raises(ConfigError, match=r"faces\.on_missing must be one of"):
        split_config({**compose_serve(), "faces": {"enabled": True, "on_missing": "drop"}})
    with pytest.raises(ValueError, match="max_faces must be >= 1"):
        split_config(compose_serve("max_faces=0"))
