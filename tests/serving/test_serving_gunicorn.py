"""The real server: scripts/serve.py -> gunicorn on loopback, concurrent good and bad requests."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bad_inputs import bad_inputs, encode, face_like_image, noise_image

from deepguard.images import decode_image, to_model_input
from tests.helpers.servers import free_port

REPO = Path(__file__).parents[2]


def wait_ready(base: str, process: subprocess.Popen, timeout_s: float = 180) -> None:
    requests = pytest.importorskip("requests")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            if requests.get(f"{base}/v1/health/ready", timeout=2).status_code == 200:
                return
        except requests.RequestException:  # refused, or slow while TensorFlow imports
            pass
        time.sleep(0.5)
    raise AssertionError(f"server not ready within {timeout_s} s")


@pytest.fixture
def server(model_path, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    log = (tmp_path / "server.log").open("w")
    command = [
        sys.executable,
        str(REPO / "scripts" / "serve.py"),
        f"model={model_path}",
        f"port={port}",
        "workers=1",
        "threads=8",
        "max_concurrency=2",
        "queue_timeout_s=30",
        "max_content_length=3000000",
    ]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
def test_real_server_answers_good_and_bad_requests_concurrently(server, model_path, cached_loader):
    requests = pytest.importorskip("requests")
    model = cached_loader(str(model_path)).model
    goods = [encode(face_like_image(300 - 10 * i, 280), "JPEG") for i in range(6)]
    goods += [encode(noise_image(128, 96, seed=i), "PNG") for i in range(4)]
    expected = {
        index: float(model.predict(to_model_input(decode_image(data), 64)[None], verbose=0)[0, 0])
        for index, data in enumerate(goods)
    }
    bads = bad_inputs()
    jobs = [("good", i, goods[i]) for i in range(len(goods))] * 3
    jobs += [("bad", i, bads[i].data) for i in range(len(bads))] * 2
    jobs.sort(key=lambda job: hash((job[0], job[1])) % 97)  # interleave good and bad

    def send(job):
        kind, index, data = job
        response = requests.post(
            f"{server}/v1/predict", files={"file": ("upload.jpg", data)}, timeout=60
        )
        return kind, index, response

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, jobs))

    for kind, index, response in results:
        body = response.json()
        assert response.headers["X-Request-ID"] == body["request_id"]
        if kind == "good":
            assert response.status_code == 200, body
            probability = body["predictions"][0]["probability_fake"]
            assert probability == pytest.approx(expected[index], abs=1e-5)
        else:
            assert (response.status_code, body["error"]["code"]) == (
                bads[index].status,
                bads[index].code,
            )
    assert requests.get(f"{server}/v1/health/ready", timeout=5).status_code == 200

    too_big = requests.post(
        f"{server}/v1/predict", files={"file": ("big.png", b"\x00" * 4_000_000)}, timeout=60
    )
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
    assert requests.get(f"{server}/v1/health/ready", timeout=5).status_code == 200
