"""The playground's requests run in a small pool of child processes, so the server keeps
serving whatever a request does: each request holds one child, a request over its time limit
is stopped by killing its child (a derivation in pure Python cannot be interrupted otherwise),
memory is capped by each child's address space, and a crash costs only that child. A killed
child is replaced at once; the other children keep answering meanwhile."""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import os
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from ...errors import OptionError
from .service import Limits

log = logging.getLogger("einsdiff.web")
_START_SECONDS = 60.0  # a cold child imports numpy and einsdiff
HANDLERS = "einsdiff.frontends.web.service:HANDLERS"


class Worker:
    """One child process that answers requests with the handlers named by ``handlers``
    (``module:attribute``), one at a time; its caller (the :class:`Pool`) keeps it to one."""

    def __init__(self, limits: Limits, handlers: str = HANDLERS):
        self.limits = limits
        self.handlers = handlers
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._process = None
        self._connection = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def call(self, action: str, request: dict) -> dict:
        """The handler's answer, or ``{"error": {...}}``: for bad input, a time-out, a crash.
        After a time-out or a crash the child is gone: :meth:`start` a new one."""
        if not self.alive:
            self.start()
        self._connection.send((action, request))
        if not self._connection.poll(self.limits.seconds):
            log.warning("%s took over %g s; stopping its worker", action, self.limits.seconds)
            self.stop()
            return _error(f"stopped after {self.limits.seconds:g} s: this request takes too long "
                          f"for the playground; try smaller shapes or a shorter formula")
        try:
            return self._connection.recv()
        except (EOFError, OSError):  # the child died mid-request: out of memory, most likely
            self.stop()
            return _error("the computation ran out of the memory the playground allows; try smaller shapes")

    def start(self) -> None:
        """A fresh child, in place of the old one; returns once it is ready."""
        self.stop()
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child, self.limits, self.handlers),
                                              daemon=True, name="einsdiff-web-worker")
        self._process.start()
        child.close()
        self._connection = parent
        if not parent.poll(_START_SECONDS) or parent.recv() != "ready":
            self.stop()
            raise RuntimeError("the playground's worker process did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._connection.close()
            self._process = self._connection = None


class Pool:
    """``size`` workers (default: one per core); each request waits for an idle one and holds
    it alone, so a slow request delays only itself."""

    def __init__(self, limits: Limits, size: int | None = None, handlers: str = HANDLERS):
        size = (os.cpu_count() or 1) if size is None else size
        if size < 1:
            raise OptionError(f"workers={size}: a pool needs at least 1 worker")
        self.limits = limits
        self.workers = tuple(Worker(limits, handlers) for _ in range(size))
        self._idle: asyncio.Queue | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._restarts: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Start every worker (in parallel) on the running event loop."""
        self._idle = asyncio.Queue()
        self._threads = ThreadPoolExecutor(len(self.workers), thread_name_prefix="einsdiff-web")
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._threads, w.start) for w in self.workers))
        for w in self.workers:
            self._idle.put_nowait(w)

    async def stop(self) -> None:
        await asyncio.gather(*self._restarts)  # a child half started would outlive the pool
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._threads, w.stop) for w in self.workers))
        self._threads.shutdown(wait=False)

    async def call(self, action: str, request: dict) -> dict:
        """The answer of one worker; if none is free within two time limits, a busy message."""
        try:
            worker = await asyncio.wait_for(self._idle.get(), self.limits.seconds * 2 + _START_SECONDS)
        except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
            return _error("the playground is busy with other requests; try again in a moment")
        loop = asyncio.get_running_loop()
        running = loop.run_in_executor(self._threads, worker.call, action, request)
        # The worker is free again when its call ends, not when this request does: a request
        # cancelled (its client gone) must not hand out a worker that is still computing.
        running.add_done_callback(lambda _: self._release(worker))
        return await asyncio.shield(running)

    def _release(self, worker: Worker) -> None:
        if worker.alive:
            self._idle.put_nowait(worker)
            return
        # Stopped or crashed: the reply has gone out; a replacement starts before it serves again.
        task = asyncio.get_running_loop().create_task(self._restart(worker))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _restart(self, worker: Worker) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._threads, worker.start)
        except Exception:  # the next call tries again; the log says why this one failed
            log.exception("a playground worker did not restart")
        finally:
            self._idle.put_nowait(worker)


def _error(message: str) -> dict:
    return {"error": {"message": message, "position": None}}


def _serve(connection, limits: Limits, handlers: str) -> None:
    """The child's loop: bounded memory, then one answer per request."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    except (ImportError, ValueError, OSError):  # not on this platform: the memory guard still holds
        pass
    from ...config import config
    from ...errors import EinsdiffError
    from . import service

    module, _, attribute = handlers.partition(":")
    table = getattr(importlib.import_module(module), attribute)
    config.max_dense_bytes = limits.memory_bytes // 4
    connection.send("ready")
    while True:
        try:
            action, request = connection.recv()
        except EOFError:
            return
        started = time.perf_counter()
        try:
            answer = table[action](request, limits)
        except EinsdiffError as err:
            answer = service.error_answer(err)
        except MemoryError:
            answer = _error("the computation ran out of the memory the playground allows; try smaller shapes")
        except Exception as err:  # the page gets a sentence; the server's log gets the traceback
            traceback.print_exc()
            answer = _error(f"internal error ({type(err).__name__}); please report the formula and shapes")
        log.debug("%s in %.3f s", action, time.perf_counter() - started)
        connection.send(answer)
