"""The playground's HTTP side: a Starlette app that serves the page and hands each API request
to a pool of worker processes. Errors are JSON ``{"error": {"message", "position"}}``, never a trace."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

from .service import EXAMPLES, HANDLERS, Limits
from .worker import HANDLERS as WORKER_HANDLERS, Pool

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("einsdiff.web")


def create_app(limits: Limits | None = None, workers: int | None = None, handlers: str = WORKER_HANDLERS):
    """The playground as a Starlette app; its pool of ``workers`` processes (default: one per
    core) starts with the app and ends with it. ``handlers`` (``module:attribute``) is the table
    of actions the workers run: tests put a slow action in it."""
    # Imported here, so the package imports (and its doctests collect) without the web extra.
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    limits = limits or Limits()
    pool = Pool(limits, workers, handlers)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await pool.start()
        try:
            yield
        finally:
            await pool.stop()

    async def page(request: Request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def examples(request: Request):
        return JSONResponse({"examples": list(EXAMPLES)})

    async def api(request: Request):
        action = request.path_params["action"]
        if action not in HANDLERS:
            return _error(f"no such action {action!r}; the API has {', '.join(sorted(HANDLERS))}", 404)
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > limits.body_bytes):
            return _error(f"the request is larger than the playground's {limits.body_bytes:,} bytes", 413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limits.body_bytes:
                return _error(f"the request is larger than the playground's {limits.body_bytes:,} bytes", 413)
        try:
            payload = json.loads(body)
        except ValueError:
            return _error("the request body must be a JSON object", 400)
        if not isinstance(payload, dict):
            return _error("the request body must be a JSON object", 400)
        answer = await pool.call(action, payload)
        return JSONResponse(answer, status_code=400 if "error" in answer else 200)

    async def http_error(request: Request, exc: HTTPException):
        return _error(exc.detail, exc.status_code)

    async def server_error(request: Request, exc: Exception):
        log.exception("unexpected error in %s", request.url.path)
        return _error(f"internal error ({type(exc).__name__}); please report what you typed", 500)

    routes = [
        Route("/", page),
        Route("/api/examples", examples),
        Route("/api/{action}", api, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error, Exception: server_error})
    app.state.limits, app.state.pool = limits, pool
    return app


def _error(message: str, status: int):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "position": None}}, status_code=status)


def serve(host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None, workers: int | None = None) -> None:
    """Run the playground until interrupted; on localhost unless ``host`` says otherwise, with
    ``workers`` worker processes (default: one per core)."""
    import uvicorn

    app = create_app(limits, workers)
    size = len(app.state.pool.workers)
    print(f"einsdiff playground on http://{host}:{port}/ with {size} worker{'s' * (size != 1)} "
          f"(Ctrl+C to stop)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
