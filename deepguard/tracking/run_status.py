"""How a run ends: FINISHED, FAILED on an exception, KILLED on SIGTERM or Ctrl-C.

A run that is not ended explicitly stays RUNNING in MLflow forever (for instance after
``kill`` or ``exit()``). The training entry point is the one failure funnel::

    install_sigterm_handler()          # SIGTERM now raises RunKilled in the main thread
    with ended_run_guard(logger):      # FINISHED, or FAILED / KILLED and re-raise
        ...fit, test, log...

A ``kill -9`` cannot be caught: `mark_stale_run_killed` closes such a run on the next start.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

FINISHED = "FINISHED"
FAILED = "FAILED"
KILLED = "KILLED"


class RunKilled(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM.

    A `KeyboardInterrupt` subclass, so code that catches `Exception` does not swallow it.
    """


def _raise_run_killed(signum: int, frame: Any) -> None:
    raise RunKilled(f"received signal {signal.Signals(signum).name}: the run ends as KILLED")


def install_sigterm_handler() -> Any:
    """Make SIGTERM raise `RunKilled` in the main thread; returns the previous handler.

    Does nothing (returns None) outside the main thread, where Python cannot install handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_run_killed)


def status_for_exception(error: BaseException | None) -> str:
    """The MLflow status a run ends with after `error` (None: it finished)."""
    if error is None:
        return FINISHED
    if isinstance(error, KeyboardInterrupt | SystemExit):
        # SystemExit(0) is a clean exit; any other code means the run did not finish.
        if isinstance(error, SystemExit) and error.code in (None, 0):
            return FINISHED
        return KILLED
    return FAILED


@contextlib.contextmanager
def ended_run_guard(logger: Any) -> Iterator[Any]:
    """End `logger`'s run FINISHED, or FAILED / KILLED when the block raises, then re-raise.

    Example:
        >>> with ended_run_guard(logger):
        ...     metrics = fit_and_test()
    """
    try:
        yield logger
    except BaseException as error:  # the one funnel: record the status, then re-raise
        logger.finish(status_for_exception(error))
        raise
    logger.finish(FINISHED)


def mark_stale_run_killed(run_id: str, tracking_uri: str | None = None) -> bool:
    """End run `run_id` as KILLED if it is still RUNNING (its process died, e.g. ``kill -9``).

    Returns True when the run was changed.
    """
    from deepguard.tracking.store import make_client, resolve_tracking_uri

    client = make_client(resolve_tracking_uri(tracking_uri))
    run = client.get_run(run_id)
    if run.info.status != "RUNNING":
        return False
    client.set_terminated(run_id, status=KILLED)
    return True
