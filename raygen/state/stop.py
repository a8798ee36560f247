"""The stop flag of a raygen driver process: SIGINT and SIGTERM (Ctrl-C, scancel, a
Slurm time limit, kill) set it, and every wait of the driver checks it and stops the
run there — with finished work kept, exit 130, and one raygen line."""

from __future__ import annotations

import os
import signal
import threading

# Every blocking wait of the driver wakes up this often, so that SIGINT/SIGTERM
# (Ctrl-C, scancel, a Slurm time limit) stop a run within about a second.
POLL_S = 1.0

# Set by SIGINT/SIGTERM; every wait of the driver checks it and stops the run there.
# A handler that raised KeyboardInterrupt itself could be lost: CPython discards an
# exception raised while a weakref callback or a __del__ runs (seen: a SIGTERM that
# let the run go on to rc 0). A second signal stops at once.
STOP = threading.Event()


def _on_stop_signal(signum, frame) -> None:
    if STOP.is_set():
        raise KeyboardInterrupt(f"signal {signum}, twice")
    STOP.set()
    os.write(2, f"[raygen] signal {signum}: stopping at the next wait (within about "
                f"{POLL_S:.0f} s); finished work is kept\n".encode())


def stop_on_signals() -> dict:
    """SIGINT and SIGTERM set :data:`STOP` (main thread only); the previous handlers.
    Installed when ``python -m raygen`` starts and again after ``ray.init`` (which
    sets its own SIGTERM handler)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _on_stop_signal) for sig in (signal.SIGINT,
                                                                  signal.SIGTERM)}


def restore_signals(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def check_stop() -> None:
    """Raise KeyboardInterrupt if a stop was asked for (in ordinary code, never in a
    callback, so it cannot be lost)."""
    if STOP.is_set():
        raise KeyboardInterrupt("stopped by a signal")


def driver_signals() -> None:
    """A raygen driver process, from its first line: a signal is a clean stop, and
    Ray's absl failure-signal handler stays out of it. Ray's core worker installs
    that handler in the driver, which catches SIGTERM too (a stack dump, then SIGABRT:
    exit 134) before Python's handler is back; Ray reads this switch once, when
    imported: for this process only, not for the Ray processes it starts (their crash
    dumps stay on). Call before anything imports Ray."""
    stop_on_signals()
    os.environ["RAY_DISABLE_FAILURE_SIGNAL_HANDLER"] = "1"
    import ray._private.ray_constants  # noqa: F401

    del os.environ["RAY_DISABLE_FAILURE_SIGNAL_HANDLER"]
