"""A stop signal is a flag checked at the driver's waits: it cannot be lost in a
weakref callback (where CPython discards exceptions), and a second one stops at once."""

import gc
import os
import signal
import weakref

import pytest

from raygen.state import stop


@pytest.fixture
def handlers():
    previous = stop.stop_on_signals()
    stop.STOP.clear()
    yield
    stop.restore_signals(previous)
    stop.STOP.clear()


class Thing:
    pass


def test_a_signal_during_a_weakref_callback_is_not_lost(handlers, capfd):
    thing = Thing()
    ref = weakref.ref(thing, lambda r: os.kill(os.getpid(), signal.SIGTERM))
    del thing
    gc.collect()  # the callback runs; the signal arrives inside it
    assert ref() is None
    assert stop.STOP.is_set()
    with pytest.raises(KeyboardInterrupt):
        stop.check_stop()  # ... and the next wait stops the run
    assert "stopping at the next wait" in capfd.readouterr().err


def test_a_second_signal_stops_at_once(handlers):
    os.kill(os.getpid(), signal.SIGINT)
    assert stop.STOP.is_set()
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs between bytecodes
            pass


def test_no_signal_no_stop(handlers):
    stop.check_stop()
