"""The playground's requests run in one child process, so the server keeps serving whatever a
request does: a request over its time limit is stopped by killing the child (a derivation in
pure Python cannot be interrupted otherwise), memory is capped by the child's address space,
and a crash costs only the child. A new child starts at once."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import traceback

from .service import Limits

log = logging.getLogger("einsdiff.web")
_START_SECONDS = 60.0  # a cold child imports numpy and einsdiff


class Worker:
    """Runs :data:`einsdiff.web.service.HANDLERS` in a child process, one request at a time."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._lock = threading.Lock()
        self._process = None
        self._connection = None

    def start(self) -> None:
        with self._lock:
            self._restart()

    def stop(self) -> None:
        with self._lock:
            self._kill()

    def call(self, action: str, request: dict) -> dict:
        """The handler's answer, or ``{"error": {...}}``: for bad input, a time-out, a crash."""
        # A request waits for the one before it at most one time limit more.
        if not self._lock.acquire(timeout=self.limits.seconds * 2 + _START_SECONDS):
            return _error("the playground is busy with other requests; try again in a moment")
        try:
            if self._process is None or not self._process.is_alive():
                self._restart()
            self._connection.send((action, request))
            if not self._connection.poll(self.limits.seconds):
                log.warning("%s took over %g s; restarting the worker", action, self.limits.seconds)
                self._restart()
                return _error(f"stopped after {self.limits.seconds:g} s: this request takes too long "
                              f"for the playground; try smaller shapes or a shorter formula")
            try:
                return self._connection.recv()
            except (EOFError, OSError):  # the child died mid-request: out of memory, most likely
                self._restart()
                return _error("the computation ran out of the memory the playground allows; try smaller shapes")
        finally:
            self._lock.release()

    def _restart(self) -> None:
        self._kill()
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child, self.limits), daemon=True,
                                              name="einsdiff-web-worker")
        self._process.start()
        child.close()
        self._connection = parent
        if not parent.poll(_START_SECONDS) or parent.recv() != "ready":
            raise RuntimeError("the playground's worker process did not start")

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._connection.close()
            self._process = self._connection = None


def _error(message: str) -> dict:
    return {"error": {"message": message, "position": None}}


def _serve(connection, limits: Limits) -> None:
    """The child's loop: bounded memory, then one answer per request."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    except (ImportError, ValueError, OSError):  # not on this platform: the memory guard still holds
        pass
    import einsdiff
    from einsdiff.errors import EinsdiffError
    from einsdiff.web import service

    einsdiff.config.max_dense_bytes = limits.memory_bytes // 4
    connection.send("ready")
    while True:
        try:
            action, request = connection.recv()
        except EOFError:
            return
        started = time.perf_counter()
        try:
            answer = service.HANDLERS[action](request, limits)
        except EinsdiffError as err:
            answer = service.error_answer(err)
        except MemoryError:
            answer = _error("the computation ran out of the memory the playground allows; try smaller shapes")
        except Exception as err:  # the page gets a sentence; the server's log gets the traceback
            traceback.print_exc()
            answer = _error(f"internal error ({type(err).__name__}); please report the formula and shapes")
        log.debug("%s in %.3f s", action, time.perf_counter() - started)
        connection.send(answer)
