"""How a run ends: FINISHED, FAILED on an exception, KILLED on SIGTERM or Ctrl-C; said once.

A run that is not ended explicitly stays RUNNING in MLflow forever (for instance after
``kill`` or ``exit()``). Every entry point (training, evaluation, each sweep job) goes through
the one failure funnel, `tracked_run`::

    with tracked_run(logger, run_name="x", config=cfg, tags={}):
        ...fit, test, log...           # FINISHED, or FAILED / KILLED and re-raised

It makes SIGTERM raise `RunKilled` while the block runs (the previous handler comes back
afterwards), opens the run, and ends it with the status the block earned. A ``kill -9``
cannot be caught: each run records its host and process id, and the next run started
against the same store closes runs whose process is gone as KILLED (`close_stale_runs`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FINISHED = "FINISHED"
FAILED = "FAILED"
KILLED = "KILLED"
HOST_TAG = "deepguard.host"
PID_TAG = "deepguard.pid"
CLOSED_TAG = "deepguard.closed_because"


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


def restore_sigterm_handler(previous: Any) -> None:
    """Put back the handler `install_sigterm_handler` replaced (None: it installed nothing)."""
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)


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

    `tracked_run` is the entry points' funnel; this is its status part alone.
    """
    try:
        yield logger
    except BaseException as error:  # the one funnel: record the status, then re-raise
        logger.finish(status_for_exception(error))
        raise
    logger.finish(FINISHED)


@contextlib.contextmanager
def tracked_run(logger: Any, **start_arguments: Any) -> Iterator[Any]:
    """The failure funnel of every entry point: open `logger`'s run, end it once, re-raise.

    Args:
        logger: a `deepguard.tracking.logger.Logger`.
        **start_arguments: what `Logger.start` takes (``run_name``, ``config``, ``tags``,
            ``run_id`` to resume, ``parent_run_id``).

    While the block runs, SIGTERM raises `RunKilled`; the previous handler is restored when
    it ends, however it ends. Exceptions end the run FAILED, SIGTERM and Ctrl-C KILLED.

    Example:
        >>> with tracked_run(logger, run_name="demo", config={}, tags={}):
        ...     logger.log_metrics({"val_auc": 0.9})
    """
    previous = install_sigterm_handler()
    try:
        with ended_run_guard(logger):
            logger.start(**start_arguments)
            yield logger
    finally:
        restore_sigterm_handler(previous)


# ------------------------------------------------------------- crashed processes


def machine_id() -> str:
    """This host and its process-id namespace: processes with the same id share liveness.

    Containers can share a host name (``--network host``) while each has its own process ids;
    the inode of ``/proc/self/ns/pid`` tells their namespaces apart (Linux; elsewhere the host
    name alone).
    """
    namespace = Path("/proc/self/ns/pid")
    try:
        return f"{socket.gethostname()}:{namespace.stat().st_ino}"
    except OSError:
        return socket.gethostname()


def process_tags() -> dict[str, str]:
    """The tags that let a later run tell whether this run's process is still alive."""
    return {HOST_TAG: machine_id(), PID_TAG: str(os.getpid())}


def process_is_gone(tags: dict[str, str]) -> bool:
    """True when `tags` name a process on this host that no longer exists.

    Runs of other hosts (or other containers), and runs without the tags, are never judged:
    only a process this machine can see is known to be dead. A reused process id reads as
    alive (the run then stays RUNNING until that process ends: a safe mistake).
    """
    if tags.get(HOST_TAG) != machine_id() or not str(tags.get(PID_TAG, "")).isdigit():
        return False
    pid = int(tags[PID_TAG])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False


def mark_stale_run_killed(run_id: str, tracking_uri: str | None = None, client: Any = None) -> bool:
    """End run `run_id` as KILLED if it is still RUNNING (its process died, e.g. ``kill -9``).

    Returns True when the run was changed.
    """
    if client is None:
        from deepguard.tracking.store import make_client, resolve_tracking_uri

        client = make_client(resolve_tracking_uri(tracking_uri))
    run = client.get_run(run_id)
    if run.info.status != "RUNNING":
        return False
    client.set_tag(run_id, CLOSED_TAG, "its process ended without closing it (killed or crashed)")
    client.set_terminated(run_id, status=KILLED)
    return True


def close_stale_runs(client: Any, experiment_id: str, keep: str | None = None) -> list[str]:
    """Close as KILLED every RUNNING run of `experiment_id` whose process on this host is gone.

    Args:
        client: an `MlflowClient` for the store.
        experiment_id: the experiment to look in.
        keep: a run id left alone (the run about to be resumed).

    Returns:
        The ids of the runs closed.
    """
    running = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{machine_id()}'",
    )
    closed = [
        run.info.run_id
        for run in running
        if run.info.run_id != keep
        and process_is_gone(run.data.tags)
        and mark_stale_run_killed(run.info.run_id, client=client)
    ]
    for run_id in closed:
        log.warning("run %s was left RUNNING by a process that is gone: closed as KILLED", run_id)
    return closed
