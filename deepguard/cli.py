"""What every script in ``scripts/`` shares: an expected failure ends in one clear message.

A user who points a command at a missing file, a tampered model or a bad config value needs
the reason and the fix, not a stack of frames. `reports_user_errors` wraps a script's task
function (under ``@hydra.main``): DeepGuard's own errors and missing-file errors become a
Hydra *compact* error, which Hydra prints as its message alone (after the job's overrides,
before its hint about ``HYDRA_FULL_ERROR``) and exits with status 1.
``HYDRA_FULL_ERROR=1`` makes Hydra re-raise instead, so the whole traceback (the original
error included, as the cause) is still one variable away. Anything unexpected keeps its
traceback. Ctrl-C and SIGTERM print one line and exit 130 and 143 (128 + the signal number).

Example::

    @hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
    @reports_user_errors
    def main(cfg): ...
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from hydra.errors import CompactHydraException

from deepguard.errors import DeepGuardError
from deepguard.tracking.run_status import RunKilled

# Failures a user causes and can fix from the command line; anything else is a bug.
USER_ERRORS: tuple[type[BaseException], ...] = (
    DeepGuardError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)
FULL_ERROR_VARIABLE = "HYDRA_FULL_ERROR"

TaskFunction = TypeVar("TaskFunction", bound=Callable[..., Any])


class CommandError(CompactHydraException):
    """An expected failure of a command: Hydra prints its message without a traceback."""


def user_error_in(error: BaseException) -> BaseException | None:
    """The first user error in `error`'s chain of causes (Hydra wraps errors raised while it
    instantiates a config node), or None when the failure is unexpected."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, USER_ERRORS):
            return current
        seen.add(id(current))
        current = current.__cause__
    return None


def describe(error: BaseException) -> str:
    """``<ErrorType>: <message>``, the one line a user reads."""
    return f"{type(error).__name__}: {error}"


def reports_user_errors(task_function: TaskFunction) -> TaskFunction:
    """Wrap a script's task function so expected failures print one message (see module doc).

    The wrapped function carries ``reports_user_errors = True``, which the tests check on
    every script.
    """

    @functools.wraps(task_function)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return task_function(*args, **kwargs)
        except KeyboardInterrupt as interrupt:
            _exit_interrupted(interrupt)
        except Exception as error:
            cause = user_error_in(error)
            if cause is None:
                raise
            raise CommandError(describe(cause)) from cause

    run.reports_user_errors = True  # type: ignore[attr-defined]
    return run  # type: ignore[return-value]


def _exit_interrupted(interrupt: KeyboardInterrupt) -> None:
    """Ctrl-C (SIGINT) or SIGTERM: one line and the shell's exit status for that signal."""
    if os.environ.get(FULL_ERROR_VARIABLE) == "1":
        raise interrupt
    signum = signal.SIGTERM if isinstance(interrupt, RunKilled) else signal.SIGINT
    reason = str(interrupt) or f"interrupted ({signal.Signals(signum).name})"
    sys.stderr.write(f"{reason}; stopped\n")
    raise SystemExit(128 + int(signum)) from None
