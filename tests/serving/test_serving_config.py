from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from deepguard.images import DecodeLimits
from deepguard.serving.wsgi import serve, split_config

CONF = Path(__file__).parents[2] / "conf"


@pytest.fixture
def serve_cfg():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("serve", overrides=["model=outputs/run/model.keras", "port=9001"])
    yield OmegaConf.to_container(cfg, resolve=True)
    GlobalHydra.instance().clear()


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
