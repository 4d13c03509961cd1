"""Running expressions: ``compile`` once, call many times.

``compile`` builds the program once (:mod:`einsdiff.engine.program`: the passes, then a
planned step per node). On numpy the second call lowers the program to straight-line
source (:mod:`einsdiff.engine.lowering`) and compiles it, and every call from then on
checks its inputs and runs it (the first runs the steps one by one: a function called
once, as by ``ed.evaluate``, does not pay for compiling source). Each :class:`~einsdiff.ir.expr.Contract` is contracted in its planned order onto
the output indices its operands carry, placed by its :class:`~einsdiff.ir.layout.Layout`:
broadcast over absent indices and written onto the diagonal of a zeroed array for
repeated ones, so a Kronecker delta never becomes a dense identity operand. ``profile``
times the same steps one at a time (each through ``opt_einsum``), and other array
libraries run them through :mod:`einsdiff.engine.backends`.

Before a call allocates anything, the largest dense array it will create (a node's
result, or an intermediate opt_einsum reported when planning) is compared with
``ed.config.max_dense_bytes``: shapes are fixed at compile time, the dtype at call time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from ..config import config
from ..errors import BindingError, MemoryLimitError, OperandError
from ..ir.expr import Call, Const, Expr, Map, Materialize, Reshape, Var
from ..ir.functions import FUNCTIONS
from ..ir.ops import OPS
from ..ir.variables import gather_bindings, variables
from .backends import Backend, get_backend, placement
from .contraction import Contraction
from .lowering import lower, source_names
from .program import Plan, Step, WeightedSum, compile_program

Runner = Callable[[list, dict, np.dtype], object]


def _numpy_runner(step: Step) -> Runner:
    """How numpy runs ``step``: contractions placed through writable diagonal views, sums in place."""
    node, plan = step.node, step.plan
    if isinstance(node, Var):
        return lambda args, env, dtype: env[node.name]
    if isinstance(node, Const):
        return lambda args, env, dtype: node.value
    if isinstance(plan, Contraction | WeightedSum):
        return lambda args, env, dtype: plan.run(args, dtype)
    if isinstance(node, Map):
        op = OPS[node.fn]
        return lambda args, env, dtype: op.array(np, args[0], node.param)
    if isinstance(node, Call):
        fn = FUNCTIONS[node.fn]
        return lambda args, env, dtype: fn.numpy(node, args)
    if isinstance(node, Reshape):
        return lambda args, env, dtype: np.reshape(args[0], node.shape)
    if isinstance(node, Materialize):
        return lambda args, env, dtype: args[0]
    raise TypeError(f"cannot evaluate a {type(node).__name__}")


def _backend_runner(step: Step, backend: Backend) -> Runner:
    """How another library runs ``step``: the same plans, with placement by einsum (no
    writable views) and plain sums (no in-place accumulation)."""
    node, plan, xp = step.node, step.plan, backend.xp
    if isinstance(node, Const):
        value = backend.from_numpy(node.value)  # converted once per compile
        return lambda args, env, dtype: value
    if isinstance(plan, Contraction):
        where, factor = placement(plan.layout), plan.layout.factor

        def contract_and_place(args, env, dtype):
            if plan.path is None:
                return backend.place(backend.scalar(factor, dtype), where)
            core = backend.contract(plan.path.expression, args)
            return backend.place(core * factor if factor != 1 else core, where)

        return contract_and_place
    if isinstance(node, Map):
        op = OPS[node.fn]
        return lambda args, env, dtype: op.array(xp, args[0], node.param)
    if isinstance(node, Call):
        fn = FUNCTIONS[node.fn]
        return lambda args, env, dtype: fn.array(xp, node, args)
    if isinstance(node, Reshape):
        return lambda args, env, dtype: xp.reshape(args[0], node.shape)
    if isinstance(plan, WeightedSum):

        def weighted_sum(args, env, dtype):
            out = None
            for term, c in zip(args, plan.dense, strict=True):
                term = term if c == 1 else term * c
                out = term if out is None else out + term
            return backend.zeros(node.shape, dtype) if out is None else out

        return weighted_sum
    return _numpy_runner(step)  # Var, Materialize: no arrays of their own


def _as_input(backend: Backend, name: str, value, shape: tuple[int, ...], symmetric: bool = False):
    """The backend's array for a bound value: the backend's own arrays as they are,
    anything else read by numpy and converted; integers become float64. A value for a
    symmetric variable read by numpy must be symmetric (another library's arrays are taken
    on trust: reading them back may copy them off a device)."""
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
    if symmetric and isinstance(value, np.ndarray):
        _check_symmetric(name, value)
    if not native:
        return backend.from_numpy(value.astype(np.float64) if dtype.kind in "biu" else value)
    return backend.astype(value, np.dtype(np.float64)) if dtype.kind in "biu" else value


def _unbound(v: Var) -> BindingError:
    return BindingError(f"variable {v.name!r} (shape {v.shape}) has no value; pass {v.name}=<array of shape {v.shape}>")


def _check_symmetric(name: str, value: np.ndarray) -> None:
    """A symmetric variable's value must equal its transpose (over its last two axes) up to
    rounding: simplification reads S[j,i] for S[i,j], which is only right if they agree."""
    transposed = np.swapaxes(value, -1, -2)
    with np.errstate(invalid="ignore"):  # inf - inf: such entries are compared for equality instead
        differences = np.abs(value - transposed)
    same = (value == transposed) | (np.isnan(value) & np.isnan(transposed))  # nan or inf in both places
    differences = np.where(same, 0.0, np.where(np.isnan(differences), np.inf, differences))
    gap = float(np.max(differences, initial=0.0))
    finite = np.abs(value[np.isfinite(value)])
    scale = float(np.max(finite, initial=0.0))
    tolerance = max(1e-12, 8 * float(np.finfo(value.dtype).eps)) if value.dtype.kind == "f" else 0.0
    if gap > tolerance * scale:
        i, j = np.unravel_index(int(np.argmax(differences)), value.shape)[-2:]
        raise BindingError(
            f"variable {name!r} is symmetric but the bound array is not: entries [{i},{j}] and [{j},{i}] "
            f"differ by {gap:.3g} (relative {gap / scale if scale else float('inf'):.3g}); bind a symmetric "
            f"array, e.g. (M + M.T) / 2"
        )


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

    ``program`` is what runs (:mod:`einsdiff.engine.program`, the steps ``to_numpy_code``
    prints), ``plan`` its costs (``print(f.plan)``: a line per contraction and the total),
    ``passes`` the compile-time passes to run (:mod:`einsdiff.engine.passes`; default all).
    """

    def __init__(self, outputs: Sequence[Expr], backend: str = "numpy", chunks=None, *,
                 passes: Iterable[str] | None = None):
        self.outputs = _check_outputs(outputs)
        self.variables = variables(*self.outputs)
        self.backend = get_backend(backend, chunks)
        self.program = compile_program(self.outputs, numpy=backend == "numpy", passes=passes)
        self.steps = self.program.steps
        self.nodes = [step.node for step in self.steps]
        self._runners = [_numpy_runner(s) if backend == "numpy" else _backend_runner(s, self.backend)
                         for s in self.steps]
        slot = {node: k for k, node in enumerate(self.nodes)}
        self._reads = [tuple(slot[i] for i in step.inputs) for step in self.steps]
        self._outputs = [slot[o] for o in self.program.outputs]
        # After step k, the intermediates whose last reader is k are dropped (outputs are kept).
        last_use = {i: k for k, reads in enumerate(self._reads) for i in reads}
        self._release: list[list[int]] = [[] for _ in self.nodes]
        for i, k in last_use.items():
            if i not in self._outputs:
                self._release[k].append(i)
        self._const_dtypes = [n.value.dtype for n in self.nodes if isinstance(n, Const)]
        # The step creating the largest dense array a call creates (its elements: plan.peak_elements).
        self._largest_step = max(range(len(self.steps)), key=lambda k: (self.steps[k].dense_elements, k), default=0)
        self._tracings: dict[np.dtype, object] = {}  # backends that trace: one function per dtype
        self._constants = [n.value for n in self.nodes if isinstance(n, Const)]
        # On numpy, calls from the second on run the program lowered to straight-line source,
        # compiled once then: a function called once (ed.evaluate) does not pay for it.
        self._lowered = None
        self._maybe_shared: list[int] = []  # outputs that may share memory with an input or constant
        self._called = False  # the first call is interpreted
        # name, shape, whether a float array passes as it is (a symmetric one is checked), the variable
        self._signature = [(v.name, v.shape, not v.symmetric, v) for v in self.variables]
        self._peak_elements = self.program.plan.peak_elements
        self._dtypes: dict[tuple, np.dtype] = {}  # the dtype a call computes in, by the inputs' dtypes
        self.plan: Plan = self.program.plan

    def __call__(self, bindings: Mapping | None = None, /, **keywords) -> list[np.ndarray]:
        """The outputs' values, the variables bound by a mapping and/or keywords by name."""
        if bindings is None:  # keywords only: nothing to merge
            bindings = keywords
        elif keywords or type(bindings) is not dict:
            bindings = gather_bindings("the compiled function", bindings, keywords, (), self.variables)
        run = self._lowered
        if run is None:
            if not self._called or not self._signature or self.backend.name != "numpy":
                self._called = True
                return self._execute(bindings, None)
            run = self._lower()
        args = []
        for name, shape, plain, v in self._signature:
            value = bindings.get(name, bindings)  # the mapping itself: no value
            if plain and type(value) is np.ndarray and value.shape == shape and value.dtype.kind == "f":
                args.append(value)  # the common case, checked in a few attribute reads
            elif value is bindings:
                raise _unbound(v)
            else:
                args.append(_as_input(self.backend, name, value, shape, v.symmetric))
        key = tuple([a.dtype for a in args])
        dtype = self._dtypes.get(key)
        if dtype is None:
            dtype = self._dtypes[key] = np.result_type(*key, *self._const_dtypes)
        if self._peak_elements * dtype.itemsize > config.max_dense_bytes:
            raise self._too_large(self._largest_step, self._peak_elements * dtype.itemsize, dtype)
        results = run(dtype, *args)
        for k in self._maybe_shared:
            results[k] = _own(results[k], args + self._constants)
        for k in self._scalars:
            results[k] = _in_dtype(results[k], dtype)
        return results

    def _lower(self) -> Callable:
        """The program as straight-line source, compiled (:mod:`einsdiff.engine.lowering`)."""
        names = source_names([v.name for v in self.variables])
        lowered = lower(self.program, names=names, checked=True)
        self._maybe_shared = [k for k, view in enumerate(lowered.views) if view]
        self._scalars = [k for k, out in enumerate(self.program.outputs) if out.ndim == 0]
        self._lowered = lowered.function([names[v.name] for v in self.variables])
        return self._lowered

    def profile(self, bindings: Mapping | None = None, /, *, repeat: int = 10, **keywords) -> str:
        """Median milliseconds per step over ``repeat`` calls, one line per step, slowest marked."""
        bindings = gather_bindings("profile", bindings, keywords, ("repeat",), self.variables)
        times: list[list[float]] = [[] for _ in self.steps]
        for _ in range(repeat):
            self._execute(bindings, times)
        medians = [float(np.median(t)) * 1e3 for t in times]
        slowest = int(np.argmax(medians)) if medians else -1
        lines = []
        for k, (step, ms) in enumerate(zip(self.steps, medians, strict=True)):
            node = step.node
            what = type(node).__name__ + (f" {node.fn}" if isinstance(node, Map) else "")
            if isinstance(step.plan, Contraction):
                what += f" {step.plan.equation}"
            elif isinstance(step.plan, WeightedSum):
                what += f" of {len(node.terms)}"
            lines.append(f"{ms:9.3f} ms  {what:<40} {node.shape}" + ("  <- slowest" if k == slowest else ""))
        return "\n".join(lines + [f"{sum(medians):9.3f} ms  total"])

    def _execute(self, bindings: dict, times: list[list[float]] | None) -> list:
        backend, env = self.backend, {}
        for v in self.variables:
            if v.name not in bindings:
                raise _unbound(v)
            env[v.name] = _as_input(backend, v.name, bindings[v.name], v.shape, v.symmetric)
        dtypes = [backend.dtype(a) for a in env.values()] + self._const_dtypes
        if not env:  # e.g. an identity Jacobian: follow the precision of what was passed
            dtypes += [v.dtype for v in bindings.values() if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
        dtype = backend.computes_in(np.result_type(*dtypes) if dtypes else np.dtype(np.float64))
        elements = self.plan.peak_elements
        if not backend.lazy and elements * dtype.itemsize > config.max_dense_bytes:
            raise self._too_large(self._largest_step, elements * dtype.itemsize, dtype)
        if backend.traced and times is None:
            return list(self._traced(dtype)(env))
        if self._lowered is not None and times is None:
            results = self._lowered(dtype, *env.values())  # a list
        else:
            results = self._run(env, dtype, times)
        if backend.name != "numpy":
            return results
        inputs = list(env.values()) + self._constants
        return [_in_dtype(_own(r, inputs), dtype) for r in results]

    def _run(self, env: dict, dtype: np.dtype, times: list[list[float]] | None = None) -> list:
        """Every step in order, each intermediate dropped after its last reader."""
        values: list[np.ndarray | None] = [None] * len(self.nodes)
        for k, step in enumerate(self.steps):
            start = time.perf_counter() if times is not None else 0.0
            values[k] = self._runners[k]([values[i] for i in self._reads[k]], env, dtype)
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


def _in_dtype(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A 0-d result in the dtype the call computes in: numpy 1.x computes 2 * (0-d float32),
    0-d float32 + 1.0 and the like in float64, by value."""
    return array.astype(dtype) if array.ndim == 0 and array.dtype != dtype else array


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


def compile_outputs(outputs: Sequence[Expr], backend: str = "numpy", chunks=None, *,
                    passes: Iterable[str] | None = None) -> Compiled:
    """Plan ``outputs`` once; the result is called with the variables by name and returns a list
    of ``backend``'s arrays (see :class:`Compiled`). ``passes`` names the compile-time passes
    to run (default: all; ``passes=()`` computes the expressions as written; see
    :mod:`einsdiff.engine.passes`).

    >>> import einsdiff as ed, numpy as np
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> f = ed.sum(ed.tanh(A @ x))
    >>> value, gradient = ed.compile([f, ed.grad(f, x)])(A=np.ones((2, 3)), x=np.zeros(3))
    >>> float(value), gradient
    (0.0, array([2., 2., 2.]))
    """
    if isinstance(outputs, Expr):
        outputs = [outputs]
    return Compiled(outputs, backend, chunks, passes=passes)
