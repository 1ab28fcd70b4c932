"""Children that stop when the process that started them dies, however it dies.

Why: `sendx run` starts each child in a session of its own (so Ctrl-C reaches only the
supervisor, which stops them in order); a SIGKILL of the supervisor, or a closed terminal, would
then leave them all running, nats-server holding its port. Linux's `PR_SET_PDEATHSIG` makes the
kernel signal the child when its parent dies; it is set in the child between fork and exec
(`preexec_fn`) and survives the exec, so it works for the nats-server binary as for Python.

The kernel sends it when the *thread* that forked the child ends, not the process: start such
children from the main thread only (`ManagedProcess.start` checks).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
"""From <linux/prctl.h>."""


def _prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up once in the parent: the child between fork and exec must do as
    little as possible (no imports, no library lookups)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return libc.prctl


PRCTL = _prctl()


def stop_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for `subprocess.Popen`: the child gets `sig` when this process dies.

    SIGTERM, not SIGKILL: every child stops cleanly on it (a service answers its commands in
    flight and closes its store, nats-server flushes JetStream) within bounded time. If this
    process died between the fork and the `prctl`, the child kills itself at once.
    """
    if PRCTL is None:
        raise OSError(f"stopping children with their parent needs Linux, not {sys.platform}")
    prctl, parent = PRCTL, os.getpid()

    def preexec() -> None:
        if prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent:  # orphaned already: nobody will ever stop us
            os.kill(os.getpid(), sig)

    return preexec
