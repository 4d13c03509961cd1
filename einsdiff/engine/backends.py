"""The array libraries a compiled function runs on: numpy, jax, torch, cupy and dask.

A backend is the library's functions under numpy's names (what the tables in ``ops.py``
and ``functions.py`` call, given as ``xp``), the conversion of inputs, and the placement
of a contraction's core onto its full output. numpy places by writing into diagonal views
(``evaluate.py``); the other libraries have no writable strided views (jax arrays are
immutable, dask arrays lazy), so there a repeated output index is an einsum with an
identity and an absent one an einsum with a vector of ones. Contractions go through
opt_einsum's dispatch on the backend's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import opt_einsum

from ..errors import BackendError, OptionError
from ..ir.layout import Layout

# What to pip install for each backend.
_PACKAGES = {"jax": "jax", "torch": "torch", "cupy": "cupy-cuda12x (or the cupy wheel for your CUDA)", "dask": "einsdiff[dask]"}


@dataclass(frozen=True, slots=True)
class Eye:
    """An identity tying a later occurrence of a repeated output index to its first."""

    size: int
    axis: int | None  # the core axis it is contracted with, if any (dask matches its chunks)


@dataclass(frozen=True, slots=True)
class Placement:
    """The full output from a contraction's core (over its distinct output indices, those
    in no input left out): ``core, eye, ..., ones, ... -> output``, one identity per extra
    occurrence of a repeated index and one vector of ones per absent index."""

    expression: Callable | None  # an opt_einsum expression; None when the core is already the output
    eyes: tuple[Eye, ...]
    ones: tuple[int, ...]  # the size of each vector of ones


def placement(layout: Layout) -> Placement:
    """δ[i,j] x[i] is ``i,ij->ij``; c[i] broadcast over j is ``i,j->ij`` with ones[j]:
    ``layout`` (:mod:`einsdiff.ir.layout`) written as one einsum, for libraries without
    writable views.

    >>> from einsdiff.ir.expr import Contract, Var
    >>> from einsdiff.ir.layout import layout
    >>> x = Var("x", (3,))
    >>> placement(layout(Contract((x,), ((0,),), (0, 0), (3,)))).expression.contraction  # onto the diagonal
    'a,ab->ab'
    >>> placement(layout(Contract((x,), ((0,),), (0, 1), (3, 2)))).expression.contraction  # broadcast over j
    'a,b->ab'
    """
    symbol = opt_einsum.get_symbol
    distinct_shape, core_axes = layout.distinct_shape, layout.core_axes
    positions = layout.diagonal or tuple(range(len(distinct_shape)))
    output, eye_terms, eyes, tied = [], [], [], set()
    for p, index in enumerate(positions):
        if index in positions[:p]:  # a later occurrence: a fresh letter tied to the first by an identity
            fresh = symbol(len(distinct_shape) + len(eyes))
            eye_terms.append(symbol(index) + fresh)
            eyes.append(Eye(distinct_shape[index], core_axes.index(index) if index in core_axes else None))
            tied.add(index)
            output.append(fresh)
        else:
            output.append(symbol(index))
    absent = [k for k in range(len(distinct_shape)) if k not in core_axes and k not in tied]
    if not eyes and not absent:
        return Placement(None, (), ())
    terms = ["".join(symbol(k) for k in core_axes)] + eye_terms + [symbol(k) for k in absent]
    ones = tuple(distinct_shape[k] for k in absent)
    shapes = [tuple(distinct_shape[k] for k in core_axes)] + [(e.size, e.size) for e in eyes] + [(n,) for n in ones]
    expression = opt_einsum.contract_expression(",".join(terms) + "->" + "".join(output), *shapes)
    return Placement(expression, tuple(eyes), ones)


class Backend:
    """A library with numpy's names and keywords (cupy as it is; jax.numpy but for its dtypes).

    Subclasses override what differs. Instances hold no per-call state, so one compiled
    function may run on many threads at once.
    """

    lazy = False  # True: results are task graphs, computed later chunk by chunk
    traced = False  # True: the whole computation is traced once and compiled (see trace)

    def __init__(self, name: str, xp, array_type):
        self.name, self.xp, self.array_type = name, xp, array_type

    def is_native(self, value) -> bool:
        return isinstance(value, self.array_type)

    def from_numpy(self, array: np.ndarray):
        return self.xp.asarray(array)

    def dtype(self, array) -> np.dtype:
        return np.dtype(array.dtype)

    def computes_in(self, dtype: np.dtype) -> np.dtype:
        """The dtype the library computes in when asked for ``dtype``."""
        return dtype

    def astype(self, array, dtype: np.dtype):
        return array.astype(dtype)

    def zeros(self, shape: tuple[int, ...], dtype: np.dtype):
        return self.xp.zeros(shape, dtype=dtype)

    def scalar(self, value: float, dtype: np.dtype):
        return self.from_numpy(np.asarray(value, dtype=dtype))

    def eye(self, n: int, like, axis: int | None):
        """The n x n identity for ``like``, whose ``axis`` (if any) it is contracted with."""
        return self.xp.eye(n, dtype=like.dtype)

    def ones(self, n: int, like):
        return self.xp.ones(n, dtype=like.dtype)

    def contract(self, expression, arrays):
        return expression(*arrays, backend=self.name)

    def place(self, core, where: Placement):
        if where.expression is None:
            return core
        eyes = [self.eye(e.size, core, e.axis) for e in where.eyes]
        return self.contract(where.expression, [core, *eyes, *(self.ones(n, core) for n in where.ones)])


class _Numpy(Backend):
    """numpy itself; ``evaluate.py`` runs its steps directly (diagonal views, in-place sums)."""

    def from_numpy(self, array: np.ndarray):
        return array


class _Jax(Backend):
    def __init__(self, jax):
        super().__init__("jax", jax.numpy, jax.Array)
        self.jax = jax

    traced = True

    def computes_in(self, dtype):
        return np.dtype(self.jax.dtypes.canonicalize_dtype(dtype))  # float32 unless jax_enable_x64

    def trace(self, run):
        """``run`` (a dict of input arrays to a tuple of results) compiled whole by XLA:
        one dispatch per call instead of one per step, and XLA fuses the elementwise steps."""
        return self.jax.jit(run)


class _TorchNumpy:
    """torch under the numpy names and keywords that the tables of functions use."""

    def __init__(self, torch):
        self.torch = torch

    def __getattr__(self, name: str):  # exp, log, tanh, sign, where, isfinite, reshape, linalg, ...
        return getattr(self.torch, name)

    def _like(self, value: float, x):
        return self.torch.tensor(value, dtype=x.dtype, device=x.device)

    def power(self, x, p):
        return self.torch.pow(x, p)

    def maximum(self, x, y):  # against a number (relu): torch.maximum takes tensors only
        return self.torch.clamp(x, min=y)

    def heaviside(self, x, value: float):
        return self.torch.heaviside(x, self._like(value, x))

    def logaddexp(self, a: float, x):
        return self.torch.logaddexp(self._like(a, x), x)

    def max(self, x, axis, keepdims=False):
        return self.torch.amax(x, dim=axis, keepdim=keepdims)

    def sum(self, x, axis, keepdims=False):
        return self.torch.sum(x, dim=axis, keepdim=keepdims)

    def squeeze(self, x, axis):
        return self.torch.squeeze(x, dim=axis)


class _Torch(Backend):
    _DTYPES = ("float16", "float32", "float64", "complex64", "complex128", "int8", "int16", "int32", "int64", "uint8", "bool")

    def __init__(self, torch):
        super().__init__("torch", _TorchNumpy(torch), torch.Tensor)
        self.torch = torch
        self._to_numpy = {torch.from_numpy(np.empty(0, d)).dtype: np.dtype(d) for d in self._DTYPES}
        self._to_torch = {d: t for t, d in self._to_numpy.items()}

    def from_numpy(self, array: np.ndarray):
        # torch warns on read-only memory (constants are): those are copied.
        return self.torch.as_tensor(array if array.flags.writeable else array.copy())

    def dtype(self, array) -> np.dtype:
        return self._to_numpy.get(array.dtype, np.dtype(object))  # e.g. bfloat16: refused as not real

    def astype(self, array, dtype: np.dtype):
        return array.to(self._to_torch[dtype])

    def zeros(self, shape, dtype):
        return self.torch.zeros(shape, dtype=self._to_torch[dtype])

    def eye(self, n, like, axis):
        return self.torch.eye(n, dtype=like.dtype, device=like.device)

    def ones(self, n, like):
        return self.torch.ones(n, dtype=like.dtype, device=like.device)


class _DaskLinalg:
    """numpy.linalg on dask arrays: the matrix axes are made one chunk, so the batch of
    matrices runs block by block."""

    def __init__(self, da):
        self.da = da

    def _whole(self, a):
        return a.rechunk({a.ndim - 2: -1, a.ndim - 1: -1})

    def inv(self, a):
        return self._whole(a).map_blocks(np.linalg.inv, dtype=a.dtype)

    def det(self, a):
        return self._whole(a).map_blocks(np.linalg.det, drop_axis=(a.ndim - 2, a.ndim - 1), dtype=a.dtype)

    def slogdet(self, a):
        whole, drop = self._whole(a), (a.ndim - 2, a.ndim - 1)
        sign = whole.map_blocks(lambda m: np.linalg.slogdet(m)[0], drop_axis=drop, dtype=a.dtype)
        logabs = whole.map_blocks(lambda m: np.linalg.slogdet(m)[1], drop_axis=drop, dtype=a.dtype)
        return sign, logabs

    def cholesky(self, a):
        return self._whole(a).map_blocks(np.linalg.cholesky, dtype=a.dtype)

    def eigh(self, a):
        whole = self._whole(a)
        values = whole.map_blocks(lambda m: np.linalg.eigh(m)[0], drop_axis=a.ndim - 1, dtype=a.dtype)
        return values, whole.map_blocks(lambda m: np.linalg.eigh(m)[1], dtype=a.dtype)

    def svd(self, a, full_matrices=False):
        """The thin SVD, matrix by matrix (full_matrices is False: the only form einsdiff asks for)."""
        whole, (m, n) = self._whole(a), a.shape[-2:]
        k, last = min(m, n), a.ndim - 1

        def part(index, shape):
            return whole.map_blocks(lambda x: np.linalg.svd(x, full_matrices=False)[index], chunks=shape,
                                    dtype=a.dtype)

        batch = whole.chunks[:-2]
        u = part(0, batch + ((m,), (k,)))
        s = whole.map_blocks(lambda x: np.linalg.svd(x, compute_uv=False), drop_axis=last,
                             chunks=batch + ((k,),), dtype=a.dtype)
        return u, s, part(2, batch + ((k,), (n,)))

    def pinv(self, a):
        whole = self._whole(a)
        return whole.map_blocks(np.linalg.pinv, chunks=whole.chunks[:-2] + ((a.shape[-1],), (a.shape[-2],)),
                                dtype=a.dtype)

    def solve(self, a, b):
        """A⁻¹ B for A: batch + (n, n), B: batch + (n, k); blocks of B's columns stay apart."""
        batch = "".join(opt_einsum.get_symbol(k) for k in range(a.ndim - 2))
        return self.da.blockwise(
            np.linalg.solve, batch + "ik", self._whole(a), batch + "ij", b.rechunk({b.ndim - 2: -1}), batch + "jk",
            dtype=np.result_type(a.dtype, b.dtype), concatenate=True,
        )


class _DaskNumpy:
    """dask.array under numpy's names; what it lacks (heaviside) is numpy's ufunc, which
    dask arrays dispatch to themselves."""

    def __init__(self, da):
        self.da, self.linalg = da, _DaskLinalg(da)

    def __getattr__(self, name: str):
        return getattr(self.da, name)

    def heaviside(self, x, value: float):
        return np.heaviside(x, value)


class _Dask(Backend):
    """Lazy and chunked: results are dask arrays, computed chunk by chunk on ``.compute()``
    by dask's scheduler (threads, or a distributed cluster when a Client is active)."""

    lazy = True

    def __init__(self, da, chunks):
        super().__init__("dask", _DaskNumpy(da), da.Array)
        self.da, self.chunks = da, "auto" if chunks is None else chunks

    def from_numpy(self, array):
        return self.da.from_array(array, chunks=self.chunks)

    def zeros(self, shape, dtype):
        return self.da.zeros(shape, dtype=dtype, chunks=self.chunks)

    def eye(self, n, like, axis):
        # Blocks matching the core's along the axis it ties to: the placed result keeps its chunks.
        chunks = self.chunks if axis is None else max(like.chunks[axis])
        return self.da.eye(n, chunks=chunks, dtype=like.dtype)

    def ones(self, n, like):
        return self.da.ones(n, chunks=self.chunks, dtype=like.dtype)


def _make(name: str, chunks):
    if name == "numpy":
        return _Numpy("numpy", np, np.ndarray)
    if name == "jax":
        return _Jax(importlib.import_module("jax"))
    if name == "torch":
        return _Torch(importlib.import_module("torch"))
    if name == "cupy":
        cupy = importlib.import_module("cupy")
        return Backend("cupy", cupy, cupy.ndarray)
    return _Dask(importlib.import_module("dask.array"), chunks)


def get_backend(name: str, chunks=None) -> Backend:
    """The backend called ``name``; ``chunks`` (dask only) sets the chunk size of inputs given as numpy arrays."""
    if not isinstance(name, str) or name not in ("numpy", "jax", "torch", "cupy", "dask"):
        raise OptionError(f"backend={name!r} is not one of 'numpy', 'jax', 'torch', 'cupy', 'dask'")
    if chunks is not None and name != "dask":
        raise OptionError(f"chunks= applies to backend='dask' only, not backend={name!r}")
    try:
        return _make(name, chunks)
    except ImportError as err:
        raise BackendError(f"backend={name!r} needs the {name} package, which is not installed: "
                           f"pip install {_PACKAGES[name]}") from err
