"""One `sendx run` per data directory: an exclusive lock held for as long as the run lives.

Why: two runs on one data directory would start two buses on the same JetStream store and two
services on each organisation's SQLite store. `flock` is released by the kernel when the
holder dies, however it dies, so a crashed run never leaves a stale lock behind; the PID in
the file only names the holder in the refusal.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "run.lock"


class DataDirInUse(OSError):
    """Another process holds the data directory (the message names it and its PID)."""


class DataDirLock:
    """`with DataDirLock(data_dir): ...` or `acquire()` / `release()`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUse(
                f"data directory {self.path.parent} is in use by another `sendx run` "
                f"(pid {holder}, lock {self.path}): stop that run first, or give this one "
                f"another --data-dir (or SENDX_DATA_DIR)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            os.close(fd)  # closing the only descriptor releases the flock

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
