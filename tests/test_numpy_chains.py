"""Random chains of NumPy calls (ufuncs, reductions, products, rearranging, slicing, joining) run on an expression and on an array: the expression evaluates to
numpy's value, and its Jacobian (both modes) matches central finite differences of the NumPy
chain itself. A failure prints the chain as code and the input that reproduces it."""

from typing import NamedTuple

import numpy as np
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.testing import kink_distance


class Step(NamedTuple):
    code: str  # the call as a user writes it, with x for the input
    fn: object  # x -> the call's result, for an array and for an expression alike
    shape: tuple[int, ...]  # the result's shape


def _const(shape, seed, scale=1.0):
    """A constant array of ``shape``: entries in ±[0.25, 1] times ``scale``."""
    rng = np.random.default_rng(seed)
    return scale * rng.uniform(0.25, 1.0, shape) * rng.choice([-1.0, 1.0], shape)


@st.composite
def steps(draw, shape: tuple[int, ...]) -> Step:
    """One numpy call applicable to an input of ``shape``."""
    nd = len(shape)
    seed = draw(st.integers(0, 2**16))
    options = [
        lambda: Step("np.tanh(x)", np.tanh, shape),
        lambda: Step("np.sin(x)", np.sin, shape),
        lambda: Step("np.exp(np.tanh(x))", lambda x: np.exp(np.tanh(x)), shape),
        lambda: Step("np.logaddexp(x, 0.5)", lambda x: np.logaddexp(x, 0.5), shape),
        lambda: Step("np.log1p(np.square(x))", lambda x: np.log1p(np.square(x)), shape),
        lambda: Step("x * np.cos(x)", lambda x: x * np.cos(x), shape),
        lambda: Step("x / (1.0 + x ** 2)", lambda x: x / (1.0 + x**2), shape),
        lambda: Step("np.sqrt(np.square(x) + 1.0)", lambda x: np.sqrt(np.square(x) + 1.0), shape),
    ]
    if nd:
        c = _const(shape[-1:], seed)
        options += [
            lambda: Step(f"x * {c.tolist()}", lambda x: x * c, shape),
            lambda: Step(f"{c.tolist()} - x", lambda x: c - x, shape),
            lambda: Step("np.transpose(x)", np.transpose, shape[::-1]),
            lambda: Step("x.reshape(-1)", lambda x: x.reshape(-1), (int(np.prod(shape)),)),
        ]
        axis = draw(st.integers(-nd, nd - 1))
        keep = draw(st.booleans())
        reduced = tuple(1 if p == axis % nd else n for p, n in enumerate(shape)) if keep else \
            tuple(n for p, n in enumerate(shape) if p != axis % nd)
        options += [
            lambda: Step(f"np.sum(x, axis={axis}, keepdims={keep})", lambda x: np.sum(x, axis=axis, keepdims=keep), reduced),
            lambda: Step(f"x.mean(axis={axis}, keepdims={keep})", lambda x: x.mean(axis=axis, keepdims=keep), reduced),
            lambda: Step(f"np.max(x, axis={axis}, keepdims={keep})", lambda x: np.max(x, axis=axis, keepdims=keep), reduced),
            lambda: Step(f"x.min(axis={axis}, keepdims={keep})", lambda x: x.min(axis=axis, keepdims=keep), reduced),
            lambda: Step(f"np.prod(1.0 + 0.5 * x, axis={axis}, keepdims={keep})",
                         lambda x: np.prod(1.0 + 0.5 * x, axis=axis, keepdims=keep), reduced),
        ]
        k = draw(st.integers(1, 3))
        m = _const((shape[-1], k), seed, 1.0 / shape[-1])
        options += [
            lambda: Step(f"x @ {m.tolist()}", lambda x: x @ m, shape[:-1] + (k,)),
            lambda: Step(f"np.tensordot(x, {m.tolist()}, axes=1)", lambda x: np.tensordot(x, m, axes=1), shape[:-1] + (k,)),
            lambda: Step("np.einsum('...i,...i->...', x, np.tanh(x))",
                         lambda x: np.einsum("...i,...i->...", x, np.tanh(x)), shape[:-1]),
        ]
    if nd:
        options += [
            lambda: Step("x[..., ::-1]", lambda x: x[..., ::-1], shape),
            lambda: Step("x[0]", lambda x: x[0], shape[1:]),
            lambda: Step("np.concatenate([x, np.sin(x)], axis=-1)",
                         lambda x: np.concatenate([x, np.sin(x)], axis=-1), shape[:-1] + (2 * shape[-1],)),
        ]
    if nd and shape[0] > 1:  # no empty axes: numpy's mean of none is nan, and finite differences of nothing say nothing
        options.append(lambda: Step("x[1:]", lambda x: x[1:], (shape[0] - 1,) + shape[1:]))
    if nd < 3:
        options.append(lambda: Step("np.stack([x, np.tanh(x)])", lambda x: np.stack([x, np.tanh(x)]), (2,) + shape))
    if nd >= 2:
        options += [
            lambda: Step("np.swapaxes(x, 0, -1)", lambda x: np.swapaxes(x, 0, -1), (shape[-1],) + shape[1:-1] + (shape[0],)),
            lambda: Step("np.moveaxis(x, 0, -1)", lambda x: np.moveaxis(x, 0, -1), shape[1:] + shape[:1]),
            lambda: Step("x.sum(axis=(0, -1))", lambda x: x.sum(axis=(0, -1)), shape[1:-1]),
        ]
        if shape[-1] == shape[-2]:
            options.append(lambda: Step("np.trace(x, axis1=-2, axis2=-1)", lambda x: np.trace(x, axis1=-2, axis2=-1), shape[:-2]))
    if nd < 3:
        options.append(lambda: Step("np.expand_dims(x, 0)", lambda x: np.expand_dims(x, 0), (1,) + shape))
    if 1 in shape:
        options.append(lambda: Step("np.squeeze(x)", np.squeeze, tuple(n for n in shape if n != 1)))
    return draw(st.sampled_from(options))()


@st.composite
def chains(draw):
    shape = tuple(draw(st.lists(st.integers(2, 3), min_size=1, max_size=3)))
    chain = []
    current = shape
    for _ in range(draw(st.integers(1, 5))):
        step = draw(steps(current))
        chain.append(step)
        current = step.shape
    x0 = np.random.default_rng(draw(st.integers(0, 2**16))).uniform(-1.0, 1.0, shape)
    return shape, chain, x0


def _run(chain, x):
    for step in chain:
        x = step.fn(x)
    return x


def _fd_jacobian(chain, x0, out_size, h=1e-6):
    jac = np.empty((out_size, x0.size))
    for k in range(x0.size):
        e = np.zeros(x0.size)
        e[k] = h
        up, down = _run(chain, x0 + e.reshape(x0.shape)), _run(chain, x0 - e.reshape(x0.shape))
        jac[:, k] = (np.ravel(up) - np.ravel(down)) / (2 * h)
    return jac


@settings(max_examples=300)
@given(chains())
def test_random_numpy_chain_matches_numpy_and_finite_differences(case):
    shape, chain, x0 = case
    program = "\n".join(f"x = {step.code}" for step in chain)
    note(f"x = np.array({x0.tolist()})\n{program}")
    x = ed.var("x", shape)
    out = _run(chain, x)
    want = _run(chain, x0)
    assert out.shape == np.shape(want) == chain[-1].shape, program
    assume(kink_distance(out, {"x": x0}) > 1e-4)  # finite differences across a max's switch are meaningless
    np.testing.assert_allclose(ed.evaluate(out, x=x0), want, rtol=1e-12, atol=1e-12, err_msg=program)
    fd = _fd_jacobian(chain, x0, int(np.size(want)))
    scale = max(1.0, float(np.max(np.abs(fd), initial=0.0)))
    for mode in ("forward", "reverse"):
        got = ed.evaluate(ed.jacobian(out, x, mode), x=x0).reshape(fd.shape)
        err = float(np.max(np.abs(got - fd), initial=0.0))
        assert err <= 1e-6 * scale, f"{mode} mode: error {err:.3g} for\nx = np.array({x0.tolist()})\n{program}"
