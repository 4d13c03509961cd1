"""The memory guard: a dense array above ed.config.max_dense_bytes is refused before a call allocates anything."""

import math
import tracemalloc

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.config import Config, available_memory


@pytest.fixture
def limit(monkeypatch):
    """Sets ed.config.max_dense_bytes for one test; the old value comes back afterwards."""

    def set_limit(nbytes):
        monkeypatch.setattr(ed.config, "max_dense_bytes", nbytes)

    return set_limit


def test_an_8_gb_jacobian_is_refused_before_allocating(limit):
    limit(2 * 10**9)
    A, W, B = ed.var("A", (500, 200)), ed.var("W", (200, 100)), ed.var("B", (100,))
    J = ed.jacobian(A @ W + B, W)  # 500 * 100 * 200 * 100 = 10⁹ float64 entries
    f = ed.compile(J)
    bindings = {"A": np.ones((500, 200)), "W": np.ones((200, 100)), "B": np.ones(100)}
    tracemalloc.start()
    try:
        with pytest.raises(ed.MemoryLimitError) as caught:
            f(**bindings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10**6  # nothing near the 8 GB (nor the 0.8 MB of A) was allocated
    message = str(caught.value)
    for part in ("(500, 100, 200, 100)", "8.0 GB", "float64", "2.0 GB", "format='sparse'", "ed.jvp", "ed.vjp",
                 "ed.hvp", "ed.jacobian_diagonal", "ed.hessian_diagonal", "backend='dask'", "max_dense_bytes"):
        assert part in message
    assert isinstance(caught.value, MemoryError) and isinstance(caught.value, ed.EinsdiffError)
    with pytest.raises(ed.MemoryLimitError):
        ed.evaluate(J, **bindings)


def test_the_limit_is_read_at_call_time(limit):
    x = ed.var("x", (30,))
    hessian = ed.compile(ed.hessian(ed.tanh(x).sum(), x))  # 30 * 30 * 8 = 7200 bytes
    value = np.linspace(-1.0, 1.0, 30)
    limit(7000)
    with pytest.raises(ed.MemoryLimitError, match=r"the result of shape \(30, 30\): 7\.2 kB of float64"):
        hessian(x=value)
    limit(7200)
    t = np.tanh(value)
    np.testing.assert_allclose(hessian(x=value)[0], np.diag(-2 * t * (1 - t * t)))


def test_the_call_dtype_sets_the_bytes(limit):
    x = ed.var("x", (30,))
    outer = ed.compile(ed.outer(x, x))
    limit(4000)  # 900 entries: 3600 bytes in float32, 7200 in float64
    assert outer(x=np.ones(30, dtype=np.float32))[0].dtype == np.float32
    with pytest.raises(ed.MemoryLimitError, match="float64"):
        outer(x=np.ones(30))


def test_intermediates_count(limit):
    a, b = ed.var("a", (200,)), ed.var("b", (200,))
    f = ed.compile(ed.exp(ed.outer(a, b)).sum())  # a scalar from a 200 x 200 array
    limit(100_000)
    with pytest.raises(ed.MemoryLimitError, match=r"an intermediate of shape \(200, 200\)"):
        f(a=np.ones(200), b=np.ones(200))


def test_default_is_a_quarter_of_available_memory():
    assert Config().max_dense_bytes == pytest.approx(available_memory() / 4, rel=0.2)
    assert ed.config.max_dense_bytes > 0


def test_limit_values(limit):
    for bad in (0, -1, "1GB", None, True):
        with pytest.raises(ed.OptionError, match="max_dense_bytes"):
            ed.config.max_dense_bytes = bad
    limit(math.inf)  # no limit
    x = ed.var("x", (3,))
    assert ed.evaluate(ed.outer(x, x), x=np.ones(3)).shape == (3, 3)
    limit(1e9)
    assert ed.config.max_dense_bytes == 10**9 and isinstance(ed.config.max_dense_bytes, int)
