"""Planning and running expressions: ``compile`` once, call many times.

Each :class:`~einsdiff.ir.expr.Contract` becomes one ``opt_einsum`` contraction over
its operands with repeated and absent output indices removed; the result is then
broadcast over absent indices and written onto the diagonal of a zeroed array for
repeated ones, so a Kronecker delta never becomes a dense identity operand. Other
array libraries run the same plans through :mod:`einsdiff.engine.backends`.

Before a call allocates anything, the largest dense array it will create (a node's
result, or an intermediate opt_einsum reported when planning) is compared with
``ed.config.max_dense_bytes``: shapes are fixed at compile time, the dtype at call time.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import opt_einsum

from .backends import Backend, get_backend, placement
from ..config import config
from ..errors import BindingError, MemoryLimitError, OperandError, OptionError
from ..ir.expr import Add, Call, Const, Contract, Expr, Map, Materialize, Reshape, Var, bare
from ..ir.functions import FUNCTIONS
from ..ir.ops import OPS
from .paths import contraction
from ..ir.simplify import distribute
from .symmetry import Gram, gram, transposed_twins
from ..ir.variables import children, gather_bindings, topological, variables

# Below this many flops a GEMM is as fast as syrk and the Gram form's extra calls show.
_GRAM_MIN_FLOPS = 2**22


@dataclass(frozen=True, slots=True)
class ContractPlan:
    """How one contraction runs: the opt_einsum expression over its distinct output
    indices (the core), then placement: broadcast over absent indices, and a write
    onto the diagonal of a zeroed array for repeated ones."""

    expression: Callable | None  # None: no operands, the core is the scalar 1
    equation: str
    flops: int  # opt_einsum's count for the chosen order
    largest_intermediate: int
    core_axes: tuple[int, ...]  # where the core's axes go among the distinct output indices
    distinct_shape: tuple[int, ...]  # sizes of the distinct output indices
    out_shape: tuple[int, ...]
    diagonal: tuple[int, ...] | None  # output position -> distinct index, when an index repeats
    factor: int  # product of the sizes of summed indices found in no input

    def spread(self, args: list[np.ndarray], dtype, scale: float = 1.0) -> np.ndarray:
        """The result over the distinct output indices (a broadcast view where indices are absent)."""
        c = self.factor * scale
        if c != 1 and args and not isinstance(self.expression, Gram):
            # Scale the smallest operand when it is smaller than the core: an outer product's
            # core is far larger than its operands.
            k = min(range(len(args)), key=lambda a: args[a].size)
            if args[k].size < int(np.prod(self.distinct_shape, dtype=np.int64)):
                args = list(args)
                args[k], c = args[k] * c, 1
        if self.expression is None:
            core = np.ones((), dtype=dtype)
        elif isinstance(self.expression, Gram):  # both halves read the same operands: scale the weights
            core, c = self.expression(*args, scale=c), 1
        else:
            core = self.expression(*args)
        if c != 1:
            core = core * c
        expanded_shape = [1] * len(self.distinct_shape)
        for axis, n in zip(self.core_axes, core.shape, strict=True):
            expanded_shape[axis] = n
        if tuple(expanded_shape) == self.distinct_shape:
            return core.reshape(expanded_shape)  # nothing to broadcast: keep it writable (no copy on return)
        return np.broadcast_to(core.reshape(expanded_shape), self.distinct_shape)

    def diagonal_view(self, out: np.ndarray) -> np.ndarray:
        """The writable view of ``out`` that holds the distinct indices (its diagonal)."""
        strides = [0] * len(self.distinct_shape)
        for position, index in enumerate(self.diagonal):
            strides[index] += out.strides[position]
        return np.lib.stride_tricks.as_strided(out, self.distinct_shape, strides)

    def run(self, args: list[np.ndarray], dtype, scale: float = 1.0) -> np.ndarray:
        full = self.spread(args, dtype, scale)
        if self.diagonal is None:
            return full
        out = np.zeros(self.out_shape, dtype=full.dtype)
        self.diagonal_view(out)[...] = full
        return out


def plan_contract(node: Contract, symmetric: bool = True) -> ContractPlan:
    """The plan of ``node``; ``symmetric`` lets a mirror-symmetric network run in its Gram
    form (numpy only: it relies on numpy's matmul choosing syrk for ``Yᵀ Y``)."""
    distinct = list(dict.fromkeys(node.output))
    in_inputs = {i for idx in node.inputs for i in idx}
    core = [i for i in distinct if i in in_inputs]
    factor = 1
    for i, n in enumerate(node.sizes):
        if i not in in_inputs and i not in node.output:
            factor *= n
    symbol = opt_einsum.get_symbol
    eq = ",".join("".join(symbol(i) for i in idx) for idx in node.inputs)
    eq += "->" + "".join(symbol(i) for i in core)
    expression, flops, largest = None, 0, 0
    if node.operands:
        expression, flops, largest = contraction(eq, [op.shape for op in node.operands])
        mirrored = gram(node.operands, node.inputs, core, node.sizes) if symmetric else None
        if mirrored is not None and mirrored.flops < flops and flops >= _GRAM_MIN_FLOPS:
            expression, flops, largest = mirrored, mirrored.flops, mirrored.largest_intermediate
    repeated = len(distinct) != len(node.output)
    return ContractPlan(
        expression=expression,
        equation=eq,
        flops=flops,
        largest_intermediate=largest,
        core_axes=tuple(distinct.index(i) for i in core),
        distinct_shape=tuple(node.sizes[i] for i in distinct),
        out_shape=node.shape,
        diagonal=tuple(distinct.index(i) for i in node.output) if repeated else None,
        factor=factor,
    )


@dataclass(frozen=True, slots=True)
class AddPlan:
    """A weighted sum. Terms that are contractions with a delta are not materialized:
    their cores are added straight into the diagonal of the accumulator."""

    shape: tuple[int, ...]
    dense: tuple[float, ...]  # coefficients of the terms evaluated as arrays (the first inputs)
    placed: tuple[tuple[ContractPlan, int, float], ...]  # (plan, number of its operands, coefficient)
    twins: tuple[tuple[int, tuple[int, ...], float], ...] = ()  # (dense input, axes, coefficient): its transpose

    def run(self, args: list[np.ndarray], dtype) -> np.ndarray:
        dense, rest = args[: len(self.dense)], args[len(self.dense):]
        if not dense and len(self.placed) == 1:
            plan, _, c = self.placed[0]
            return plan.run(rest, dtype, c)
        coeffs = self.dense + tuple(c for _, _, c in self.twins)
        dense += [dense[k].transpose(axes) for k, axes, _ in self.twins]
        # An empty sum (a zero, e.g. the Jacobian of a constant) follows the precision of the inputs.
        out = _combine(dense, coeffs, self.shape, dtype if self.placed or not dense else None)
        for plan, n, c in self.placed:
            operands, rest = rest[:n], rest[n:]
            plan.diagonal_view(out)[...] += plan.spread(operands, dtype, c)
        return out


def _combine(arrays: list[np.ndarray], coeffs: tuple[float, ...], shape, dtype) -> np.ndarray:
    """A fresh array holding sum_k coeffs[k] arrays[k] (zeros of ``dtype`` when there are none)."""
    if not arrays:
        return np.zeros(shape, dtype=dtype)
    common = abs(coeffs[0])
    if len(arrays) > 1 and common != 1 and all(abs(c) == common for c in coeffs):
        out = _combine(arrays, tuple(c / common for c in coeffs), shape, dtype)  # c (a - b): one scaling
        out *= common
        return out
    target = np.result_type(*arrays, *([dtype] if dtype is not None else []))
    (a, ca), rest = (arrays[0], coeffs[0]), list(zip(arrays[1:], coeffs[1:], strict=True))
    if rest and ca == 1 and abs(rest[0][1]) == 1:  # the common a + b, a - b: one pass
        b, cb = rest.pop(0)
        out = np.add(a, b, dtype=target) if cb == 1 else np.subtract(a, b, dtype=target)
    else:
        out = np.multiply(a, ca, dtype=target)
    out = np.asarray(out)  # ufuncs return scalars for 0-d inputs
    for b, cb in rest:
        if cb == 1:
            np.add(out, b, out=out)
        elif cb == -1:
            np.subtract(out, b, out=out)
        else:
            out += np.multiply(b, cb, dtype=target)
    return out


@dataclass(frozen=True, slots=True)
class Step:
    """One node's computation: which nodes it reads and how."""

    node: Expr
    inputs: tuple[Expr, ...]
    run: Callable[[list[np.ndarray], dict, np.dtype], np.ndarray]
    intermediate: int = 0  # elements of the largest intermediate of its contractions


def _dense_elements(step: Step) -> int:
    """The most elements the step allocates at once (inputs and views allocate nothing)."""
    own = 0 if isinstance(step.node, Var | Const | Reshape | Materialize) else step.node.size
    return max(own, step.intermediate)


def _step(node: Expr) -> Step:
    if isinstance(node, Var):
        return Step(node, (), lambda args, env, dtype: env[node.name])
    if isinstance(node, Const):
        return Step(node, (), lambda args, env, dtype: node.value)
    if isinstance(node, Contract):
        plan = plan_contract(node)
        return Step(node, node.operands, lambda args, env, dtype: plan.run(args, dtype), plan.largest_intermediate)
    if isinstance(node, Map):
        op = OPS[node.fn]
        return Step(node, (node.arg,), lambda args, env, dtype: op.array(np, args[0], node.param))
    if isinstance(node, Call):
        fn = FUNCTIONS[node.fn]
        return Step(node, node.args, lambda args, env, dtype: fn.numpy(node, args))
    if isinstance(node, Reshape):
        return Step(node, (node.arg,), lambda args, env, dtype: np.reshape(args[0], node.shape))
    if isinstance(node, Materialize):
        return Step(node, (node.arg,), lambda args, env, dtype: args[0])
    if isinstance(node, Add):
        dense = [(t, c) for t, c in zip(node.terms, node.coeffs, strict=True) if not _placed(t, node)]
        placed = [(t, c) for t, c in zip(node.terms, node.coeffs, strict=True) if _placed(t, node)]
        twins = transposed_twins([t for t, _ in dense], node.shape)  # AᵀB + BᵀA: compute AᵀB once
        kept = [k for k in range(len(dense)) if k not in twins]
        plan = AddPlan(
            node.shape,
            tuple(dense[k][1] for k in kept),
            tuple((plan_contract(t), len(t.operands), c) for t, c in placed),
            tuple((kept.index(source), axes, dense[k][1]) for k, (source, axes) in twins.items()),
        )
        dense = [dense[k] for k in kept]
        inputs = tuple(t for t, _ in dense) + tuple(op for t, _ in placed for op in t.operands)
        largest = max((p.largest_intermediate for p, _, _ in plan.placed), default=0)
        return Step(node, inputs, lambda args, env, dtype: plan.run(args, dtype), largest)
    raise TypeError(f"cannot evaluate a {type(node).__name__}")


def _backend_step(node: Expr, backend: Backend) -> Step:
    """One node's computation on a backend other than numpy: the same plans, with
    placement by einsum (no writable views) and plain sums (no in-place accumulation)."""
    xp = backend.xp
    if isinstance(node, Const):
        value = backend.from_numpy(node.value)  # converted once per compile
        return Step(node, (), lambda args, env, dtype: value)
    if isinstance(node, Contract):
        plan = plan_contract(node, symmetric=False)
        where = placement(plan.core_axes, plan.distinct_shape, plan.diagonal)

        def contract(args, env, dtype):
            if plan.expression is None:
                return backend.place(backend.scalar(plan.factor, dtype), where)
            core = backend.contract(plan.expression, args)
            return backend.place(core * plan.factor if plan.factor != 1 else core, where)

        return Step(node, node.operands, contract, plan.largest_intermediate)
    if isinstance(node, Map):
        op = OPS[node.fn]
        return Step(node, (node.arg,), lambda args, env, dtype: op.array(xp, args[0], node.param))
    if isinstance(node, Call):
        fn = FUNCTIONS[node.fn]
        return Step(node, node.args, lambda args, env, dtype: fn.array(xp, node, args))
    if isinstance(node, Reshape):
        return Step(node, (node.arg,), lambda args, env, dtype: xp.reshape(args[0], node.shape))
    if isinstance(node, Add):

        def weighted_sum(args, env, dtype):
            out = None
            for term, c in zip(args, node.coeffs, strict=True):
                term = term if c == 1 else term * c
                out = term if out is None else out + term
            return backend.zeros(node.shape, dtype) if out is None else out

        return Step(node, node.terms, weighted_sum)
    return _step(node)  # Var, Materialize: no arrays of their own


def evaluation_graph(outputs: tuple[Expr, ...]) -> tuple[Expr, ...]:
    """The outputs as they are computed (equal values, less work): a solve reuses an inverse
    computed anyway, a sum operand whose terms contract in fewer flops is distributed."""
    return _distribute_cheap_sums(_reuse_inverses(tuple(outputs)))


def _rewrite(outputs: tuple[Expr, ...], rewrite: Callable[[Expr], Expr | None]) -> tuple[Expr, ...]:
    """``outputs`` rebuilt bottom-up, each node replaced by ``rewrite(node)`` where that is not None."""
    done: dict[Expr, Expr] = {}
    for node in topological(outputs):  # children first
        new = tuple(done[c] for c in children(node))
        if any(a is not b for a, b in zip(new, children(node), strict=True)):
            field = {Contract: "operands", Add: "terms", Call: "args"}.get(type(node))
            node_ = replace(node, **({field: new} if field else {"arg": new[0]}))
        else:
            node_ = node
        replacement = rewrite(node_)
        done[node] = node_ if replacement is None else replacement
    return tuple(done[o] for o in outputs)


def _reuse_inverses(outputs: tuple[Expr, ...]) -> tuple[Expr, ...]:
    """solve(A, B) where inv(A) is computed anyway is inv(A) B: one matrix product instead of
    a second LU factorization of A (the gradient of log det S + tr(S⁻¹ C) needs both)."""
    nodes = topological(outputs)
    inverted = {n.args[0] for n in nodes if isinstance(n, Call) and n.fn == "inv" and n.ndim == 2}
    if not any(isinstance(n, Call) and n.fn == "solve" and n.args[0] in inverted for n in nodes):
        return outputs

    def rewrite(node: Expr) -> Expr | None:
        if not (isinstance(node, Call) and node.fn == "solve" and node.args[0] in inverted):
            return None
        a, b = node.args
        rest = tuple(range(2, b.ndim + 1))
        sizes = (a.shape[0], a.shape[1]) + b.shape[1:]
        return Contract((Call("inv", (a,), (), a.shape), b), ((0, 1), (1,) + rest), (0,) + rest, sizes)

    return _rewrite(outputs, rewrite)


def _distribute_cheap_sums(outputs: tuple[Expr, ...]) -> tuple[Expr, ...]:
    """A contraction with a sum as an operand runs as one contraction per term when that
    costs fewer flops, and the sum, a pass over memory, is never made: the Hessian of
    logsumexp(Ax) is (A − 𝟙 pᵀA)ᵀ diag(p) A, whose terms are a Gram form (syrk) and a
    rank-one product."""
    readers = collections.Counter(bare(c) for n in topological(outputs) for c in children(n))

    def rewrite(node: Expr) -> Expr | None:
        if not isinstance(node, Contract):
            return None
        sums = [k for k, op in enumerate(node.operands)
                if isinstance(bare(op), Add) and len(bare(op).terms) > 1 and readers[bare(op)] == 1]
        if not sums:
            return None
        before = plan_contract(node).flops
        for k in sums:
            split = distribute(node, k)
            after = sum(plan_contract(t).flops if isinstance(t, Contract) else t.size for t in split.terms)
            if after < before:  # and the sum's pass over memory is saved too
                return split
        return None

    return _rewrite(outputs, rewrite)


def _placed(term: Expr, add: Add) -> bool:
    """Evaluate this term inside the sum (a delta, or the sum is just a scaled contraction)."""
    return isinstance(term, Contract) and (len(set(term.output)) < len(term.output) or len(add.terms) == 1)


def _as_input(backend: Backend, name: str, value, shape: tuple[int, ...]):
    """The backend's array for a bound value: the backend's own arrays as they are,
    anything else read by numpy and converted; integers become float64."""
    native = backend.is_native(value)
    if not native:
        try:
            value = np.asarray(value)
        except Exception as err:
            raise BindingError(f"variable {name!r}: the bound value cannot be read as an array ({err})") from err
    dtype = backend.dtype(value) if native else value.dtype
    if dtype.kind not in "biuf":
        raise BindingError(f"variable {name!r} is bound to an array of dtype {value.dtype}; bind a real array")
    if tuple(value.shape) != shape:
        raise BindingError(
            f"variable {name!r} expects shape {shape} but was given an array of shape {tuple(value.shape)}"
        )
    if not native:
        return backend.from_numpy(value.astype(np.float64) if dtype.kind in "biu" else value)
    return backend.astype(value, np.dtype(np.float64)) if dtype.kind in "biu" else value


class Compiled:
    """Expressions planned once; calling it evaluates them all, sharing intermediates.

    >>> import einsdiff as ed, numpy as np
    >>> x = ed.var("x", (3,))
    >>> f = ed.compile([x @ x, ed.grad(x @ x, x)])
    >>> value, gradient = f(x=np.array([1.0, 2.0, 3.0]))
    >>> float(value), gradient.tolist()
    (14.0, [2.0, 4.0, 6.0])

    ``backend`` ("numpy", "jax", "torch", "cupy" or "dask") is the array library it runs
    on: inputs may be numpy arrays (converted) or that library's arrays, and results are
    that library's arrays; dask's are lazy (``.compute()`` them; they read the inputs then),
    chunked by ``chunks`` where inputs come as numpy arrays. Numpy results never share memory with the inputs;
    other libraries' results may, as their own operations' do. Nothing is cached between
    calls, so one compiled function may be called from many threads at once.
    """

    def __init__(self, outputs: Sequence[Expr], backend: str = "numpy", chunks=None):
        self.outputs = _check_outputs(outputs)
        self.variables = variables(*self.outputs)
        self.backend = get_backend(backend, chunks)
        steps: dict[Expr, Step] = {}

        def inputs_of(node: Expr) -> tuple[Expr, ...]:
            if node not in steps:
                steps[node] = _step(node) if backend == "numpy" else _backend_step(node, self.backend)
            return steps[node].inputs

        graph = evaluation_graph(self.outputs)
        self.nodes = topological(graph, inputs_of)
        self.steps = [steps[n] for n in self.nodes]
        slot = {node: k for k, node in enumerate(self.nodes)}
        self._reads = [tuple(slot[i] for i in step.inputs) for step in self.steps]
        self._outputs = [slot[o] for o in graph]
        # After step k, the intermediates whose last reader is k are dropped (outputs are kept).
        last_use = {i: k for k, reads in enumerate(self._reads) for i in reads}
        self._release: list[list[int]] = [[] for _ in self.nodes]
        for i, k in last_use.items():
            if i not in self._outputs:
                self._release[k].append(i)
        self._const_dtypes = [n.value.dtype for n in self.nodes if isinstance(n, Const)]
        # The largest dense array a call creates, in elements, and the step creating it.
        self._largest = max(((_dense_elements(step), k) for k, step in enumerate(self.steps)), default=(0, 0))
        self._tracings: dict[np.dtype, object] = {}  # backends that trace: one function per dtype

    @property
    def plan(self) -> str:
        """The contraction order chosen for each network, with its cost: one line per network."""
        lines, numpy = [], self.backend.name == "numpy"
        for step in self.steps:
            node = step.node
            plans = []
            if isinstance(node, Contract):
                plans = [plan_contract(node, numpy)]
            elif isinstance(node, Add):
                plans = [plan_contract(t, numpy) for t in node.terms if _placed(t, node)]
            for p in plans:
                if p.expression is not None:
                    form = " (symmetric: Gram form, one triangle)" if isinstance(p.expression, Gram) else ""
                    lines.append(
                        f"{p.equation}: {p.flops:,} flops, largest intermediate {p.largest_intermediate:,}"
                        f" elements -> shape {p.out_shape}{form}"
                    )
        total = sum(int(line.split(": ")[1].split(" flops")[0].replace(",", "")) for line in lines)
        return "\n".join(lines + [f"total: {total:,} flops in {len(lines)} contraction(s)"])

    def __call__(self, bindings: Mapping | None = None, /, **keywords) -> list[np.ndarray]:
        """The outputs' values, the variables bound by a mapping and/or keywords by name."""
        return self._execute(gather_bindings("the compiled function", bindings, keywords, (), self.variables), None)

    def profile(self, bindings: Mapping | None = None, /, *, repeat: int = 10, **keywords) -> str:
        """Median milliseconds per step over ``repeat`` calls, one line per step, slowest marked."""
        bindings = gather_bindings("profile", bindings, keywords, ("repeat",), self.variables)
        times: list[list[float]] = [[] for _ in self.steps]
        for _ in range(repeat):
            self._execute(bindings, times)
        medians = [float(np.median(t)) * 1e3 for t in times]
        lines = []
        for step, ms in zip(self.steps, medians, strict=True):
            node = step.node
            what = type(node).__name__ + (f" {node.fn}" if isinstance(node, Map) else "")
            if isinstance(node, Contract):
                what += f" {plan_contract(node).equation}"
            elif isinstance(node, Add):
                what += f" of {len(node.terms)}"
            lines.append(f"{ms:9.3f} ms  {what:<40} {node.shape}")
        return "\n".join(lines + [f"{sum(medians):9.3f} ms  total"])

    def _execute(self, bindings: dict, times: list[list[float]] | None) -> list:
        backend, env = self.backend, {}
        for v in self.variables:
            if v.name not in bindings:
                raise BindingError(
                    f"variable {v.name!r} (shape {v.shape}) has no value; pass {v.name}=<array of shape {v.shape}>"
                )
            env[v.name] = _as_input(backend, v.name, bindings[v.name], v.shape)
        dtypes = [backend.dtype(a) for a in env.values()] + self._const_dtypes
        if not env:  # e.g. an identity Jacobian: follow the precision of what was passed
            dtypes += [v.dtype for v in bindings.values() if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
        dtype = backend.computes_in(np.result_type(*dtypes) if dtypes else np.dtype(np.float64))
        elements, largest = self._largest
        if not backend.lazy and elements * dtype.itemsize > config.max_dense_bytes:
            raise self._too_large(largest, elements * dtype.itemsize, dtype)
        if backend.traced and times is None:
            return list(self._traced(dtype)(env))
        results = self._run(env, dtype, times)
        if backend.name != "numpy":
            return results
        inputs = list(env.values()) + [n.value for n in self.nodes if isinstance(n, Const)]
        return [_own(r, inputs) for r in results]

    def _run(self, env: dict, dtype: np.dtype, times: list[list[float]] | None = None) -> list:
        """Every step in order, each intermediate dropped after its last reader."""
        values: list[np.ndarray | None] = [None] * len(self.nodes)
        for k, step in enumerate(self.steps):
            start = time.perf_counter() if times is not None else 0.0
            values[k] = step.run([values[i] for i in self._reads[k]], env, dtype)
            if times is not None:
                times[k].append(time.perf_counter() - start)
            if self.backend.lazy:
                _check_chunks(step, values[k], dtype)
            for done in self._release[k]:
                values[done] = None
        return [values[k] for k in self._outputs]

    def _traced(self, dtype: np.dtype):
        """The steps as one traced function (jax.jit): compiled by XLA on the first call for
        each dtype and input shape, then run whole, without Python between the steps."""
        traced = self._tracings.get(dtype)
        if traced is None:  # two threads may both trace: the same function, harmlessly twice
            traced = self._tracings[dtype] = self.backend.trace(lambda env: tuple(self._run(env, dtype)))
        return traced

    def _too_large(self, k: int, nbytes: int, dtype: np.dtype) -> MemoryLimitError:
        step = self.steps[k]
        node, role = step.node, "the result" if k in self._outputs else "an intermediate"
        what = f"{role} of shape {node.shape}"
        if step.intermediate > node.size:
            what = f"an intermediate of {step.intermediate:,} elements while contracting {role} of shape {node.shape}"
        return MemoryLimitError(
            f"evaluating this needs a dense array for {what}: {_human(nbytes)} of {dtype}, above "
            f"ed.config.max_dense_bytes = {_human(config.max_dense_bytes)}. Instead: "
            f"ed.evaluate(expr, format='sparse') stores only the nonzeros of a structured result; "
            f"ed.jvp, ed.vjp and ed.hvp give its product with a vector, ed.jacobian_diagonal and "
            f"ed.hessian_diagonal its diagonal; backend='dask' evaluates it chunk by chunk; or raise "
            f"ed.config.max_dense_bytes if the memory is there"
        )


def _check_chunks(step: Step, array, dtype: np.dtype) -> None:
    """A lazy backend holds one chunk at a time per task: that is what must fit."""
    chunk = tuple(int(n) for n in array.chunksize)
    nbytes = int(np.prod(chunk, dtype=np.int64)) * dtype.itemsize
    if nbytes > config.max_dense_bytes:
        raise MemoryLimitError(
            f"a chunk of shape {chunk} of an array of shape {step.node.shape} needs {_human(nbytes)} of {dtype}, "
            f"above ed.config.max_dense_bytes = {_human(config.max_dense_bytes)}; pass smaller chunks= to "
            f"ed.compile (or rechunk the dask arrays you pass), or raise ed.config.max_dense_bytes"
        )


def _human(nbytes: float) -> str:
    """Bytes in decimal units: 8e9 -> '8.0 GB'."""
    if nbytes < 1000:
        return f"{nbytes:g} B"
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        nbytes /= 1000
        if nbytes < 1000 or unit == "PB":
            return f"{nbytes:.1f} {unit}"


def _own(array: np.ndarray, inputs: list[np.ndarray]) -> np.ndarray:
    """A result the caller may write to without touching an input (a transpose is a view)."""
    array = np.asarray(array)
    if array.flags.writeable and not any(np.may_share_memory(array, a) for a in inputs):
        return array
    return array.copy()


def _check_outputs(outputs) -> tuple[Expr, ...]:
    try:
        outputs = tuple(outputs)
    except TypeError as err:
        raise OperandError(
            f"compile takes an expression or a list of expressions, got {type(outputs).__name__}"
        ) from err
    for k, out in enumerate(outputs):
        if not isinstance(out, Expr):
            raise OperandError(
                f"output {k} must be an einsdiff expression, got {type(out).__name__}; "
                f"build it from variables made by ed.var"
            )
    return outputs


def compile_outputs(outputs: Sequence[Expr], backend: str = "numpy", chunks=None) -> Compiled:
    """Plan ``outputs`` once; the result is called with the variables by name and returns a list
    of ``backend``'s arrays (see :class:`Compiled`)."""
    if isinstance(outputs, Expr):
        outputs = [outputs]
    return Compiled(outputs, backend, chunks)


def evaluate(expr: Expr, bindings: Mapping | None = None, /, *, format: str = "dense", backend: str = "numpy",  # noqa: A002
             **keywords):
    """The value of ``expr`` with arrays bound to its variables by name (unused ones are ignored):
    as one mapping, ``evaluate(e, {"A": a, "x": x})``, or as keywords, ``evaluate(e, A=a, x=x)``.
    A variable named like an option (``format``, ``backend``) goes in the mapping.

    ``format="dense"`` returns an ndarray; ``format="sparse"`` a pydata ``sparse.COO`` whose
    stored entries follow the expression's delta pattern, never allocating the dense tensor
    (:mod:`einsdiff.engine.sparse`; needs ``pip install "einsdiff[sparse]"``). ``backend`` picks the
    array library of a dense result (see :class:`Compiled`).
    """
    if not isinstance(expr, Expr):
        raise OperandError(
            f"evaluate needs an einsdiff expression, got {type(expr).__name__}; "
            f"build it from variables made by ed.var"
        )
    bindings = gather_bindings("evaluate", bindings, keywords, ("format", "backend"), variables(expr))
    if not isinstance(format, str) or format not in ("dense", "sparse"):
        raise OptionError(f"format must be 'dense' or 'sparse', got {format!r}")
    if format == "sparse":
        if backend != "numpy":
            raise OptionError(f"format='sparse' evaluates with numpy; got backend={backend!r} (use format='dense')")
        from .sparse import evaluate_sparse  # lazy: sparse is an optional extra

        return evaluate_sparse(expr, **bindings)
    return Compiled([expr], backend)(bindings)[0]
