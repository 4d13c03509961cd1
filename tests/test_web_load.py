"""The playground under load: a pool of two workers, one slow request and many fast ones at
once, through a real server (uvicorn in a thread). A slow request must hold only its own worker."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

from einsdiff.frontends.web import service  # noqa: E402
from einsdiff.frontends.web.app import create_app  # noqa: E402


def _derive_or_sleep(request: dict, limits: service.Limits) -> dict:
    """The playground's derive, or a stand-in for a slow one: {"sleep": seconds}. A real slow
    derivation would get faster as einsdiff does; this one stays slow."""
    if "sleep" in request:
        time.sleep(request["sleep"])
        return {"slept": request["sleep"]}
    return service.derive(request, limits)


HANDLERS = {**service.HANDLERS, "derive": _derive_or_sleep}  # the workers import it by name
FAST = {"formula": "Z[i,j] = A[i,k]*W[k,j] + B[j]", "wrt": "W", "order": 1,
        "shapes": {"A": "2x3", "W": "3x2", "B": "2"}, "values": {"A": "[[1,2,3],[4,5,6]]"}}
JACOBIAN = [[1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3], [4, 0, 5, 0, 6, 0], [0, 4, 0, 5, 0, 6]]
LIMIT = 3.5  # seconds


@pytest.fixture(scope="module")
def server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(service.Limits(seconds=LIMIT), workers=2, handlers=f"{__name__}:HANDLERS")
    runner = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not runner.started:  # set once the lifespan has started both workers
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app.state.pool
    runner.should_exit = True
    thread.join(timeout=30)


def _post(url: str, payload: dict) -> tuple[int, dict, float, float]:
    """Status, answer, and when the request started and ended (time.monotonic)."""
    started = time.monotonic()
    request = urllib.request.Request(f"{url}/api/derive", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, body = err.code, err.read()
    return status, json.loads(body), started, time.monotonic()


def _slow_and_fast(url: str, slow: dict, fast: int):
    """One slow request, then (once it holds a worker) ``fast`` fast ones at once."""
    with ThreadPoolExecutor(fast + 1) as threads:
        slow_future = threads.submit(_post, url, slow)
        time.sleep(0.3)  # the slow request reaches its worker first
        fast_answers = list(threads.map(lambda _: _post(url, FAST), range(fast)))
        return slow_future.result(), fast_answers


def test_a_slow_request_holds_only_its_own_worker(server):
    url, _ = server
    slow, fast = _slow_and_fast(url, {"sleep": 2.5}, fast=20)
    assert slow[:2] == (200, {"slept": 2.5})
    assert all(status == 200 and answer["matrix"] == JACOBIAN for status, answer, _, _ in fast)
    # Every fast request answered while the slow one was still running: it held one worker only.
    assert max(end for *_, end in fast) < slow[3]
    latencies = sorted(end - start for *_, start, end in fast)
    print(f"\n20 fast requests beside a 2.5 s one: median {latencies[10]:.3f} s, max {latencies[-1]:.3f} s")


def test_a_request_over_its_time_limit_stops_only_its_worker(server):
    url, pool = server
    before = [w.pid for w in pool.workers]
    slow, fast = _slow_and_fast(url, {"sleep": 60}, fast=10)
    assert slow[0] == 400 and slow[1]["error"]["message"].startswith(f"stopped after {LIMIT:g} s")
    assert all(status == 200 and answer["matrix"] == JACOBIAN for status, answer, _, _ in fast)
    assert max(end for *_, end in fast) < slow[3]
    # One worker was killed and replaced; the other kept its process.
    deadline = time.monotonic() + 60
    while not all(w.alive for w in pool.workers):
        assert time.monotonic() < deadline, "the stopped worker was not replaced"
        time.sleep(0.1)
    after = [w.pid for w in pool.workers]
    assert len(set(before) & set(after)) == 1 and len(set(after)) == 2
    assert all(_post(url, FAST)[0] == 200 for _ in range(4))
