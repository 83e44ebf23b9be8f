"""`train(cfg)` ends its MLflow run with the status it earned, through the one funnel:
an exception ends it FAILED, SIGTERM and Ctrl-C end it KILLED, and SIGTERM's handler is the
one the caller had afterwards."""

from __future__ import annotations

import signal

import pytest

from deepguard.tracking.run_status import RunKilled
from deepguard.tracking.store import default_tracking_uri, make_client
from deepguard.training import train

TINY = [
    "backbone=small_cnn",
    "data.image_size=32",
    "data.batch_size=8",
    "data.synthetic.n_per_class=12",
    "data.synthetic.image_size=32",
    "trainer.max_epochs=2",
    "callbacks=none",
    "registry.enabled=false",
    "logger=mlflow",
]
STOPPERS = "tests.helpers.callbacks"


@pytest.mark.parametrize(
    ("stopper", "raised", "expected"),
    [
        ([f"+callbacks.stop._target_={STOPPERS}.FailAtEpochBegin"], ValueError, "FAILED"),
        (
            [
                f"+callbacks.stop._target_={STOPPERS}.SignalAtEpochBegin",
                "+callbacks.stop.signal_name=SIGTERM",
            ],
            RunKilled,
            "KILLED",
        ),
        (
            [
                f"+callbacks.stop._target_={STOPPERS}.SignalAtEpochBegin",
                "+callbacks.stop.signal_name=SIGINT",
            ],
            KeyboardInterrupt,
            "KILLED",
        ),
    ],
    ids=["exception", "sigterm", "ctrl-c"],
)
def test_a_stopped_training_run_ends_with_its_status(
    compose_train, tmp_path, stopper, raised, expected, terminal_ctrl_c
):
    before = signal.getsignal(signal.SIGTERM)
    cfg = compose_train(*TINY, *stopper)
    with pytest.raises(raised):
        train(cfg)
    assert signal.getsignal(signal.SIGTERM) is before
    client = make_client(default_tracking_uri(tmp_path))
    experiment = client.get_experiment_by_name("deepguard")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == expected
