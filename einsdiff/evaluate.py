"""Planning and running expressions: ``compile`` once, call many times.

Each :class:`~einsdiff.expr.Contract` becomes one ``opt_einsum`` contraction over
its operands with repeated and absent output indices removed; the result is then
broadcast over absent indices and written onto the diagonal of a zeroed array for
repeated ones, so a Kronecker delta never becomes a dense identity operand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import opt_einsum

from .errors import BindingError
from .expr import Add, Const, Contract, Expr, Map, Reshape, Var
from .ops import OPS
from .variables import children, topological, variables


_DP_MAX_OPERANDS = 24


@dataclass(frozen=True, slots=True)
class ContractPlan:
    """How one contraction runs: the opt_einsum expression, then placement."""

    expression: Callable | None  # None: no operands, the core is the scalar 1
    core_axes: tuple[int, ...]  # where the core's axes go among the distinct output indices
    distinct_shape: tuple[int, ...]  # sizes of the distinct output indices
    out_shape: tuple[int, ...]
    diagonal: tuple[int, ...] | None  # output position -> distinct index, when an index repeats
    factor: int  # product of the sizes of summed indices found in no input

    def run(self, args: list[np.ndarray], dtype) -> np.ndarray:
        if self.expression is None:
            core = np.ones((), dtype=dtype)
        else:
            core = self.expression(*args)
        if self.factor != 1:
            core = core * self.factor
        expanded_shape = [1] * len(self.distinct_shape)
        for axis, n in zip(self.core_axes, core.shape, strict=True):
            expanded_shape[axis] = n
        full = np.broadcast_to(core.reshape(expanded_shape), self.distinct_shape)
        if self.diagonal is None:
            return full
        out = np.zeros(self.out_shape, dtype=core.dtype)
        strides = [0] * len(self.distinct_shape)
        for position, index in enumerate(self.diagonal):
            strides[index] += out.strides[position]
        np.lib.stride_tricks.as_strided(out, self.distinct_shape, strides)[...] = full
        return out


def plan_contract(node: Contract) -> ContractPlan:
    distinct = list(dict.fromkeys(node.output))
    in_inputs = {i for idx in node.inputs for i in idx}
    core = [i for i in distinct if i in in_inputs]
    factor = 1
    for i, n in enumerate(node.sizes):
        if i not in in_inputs and i not in node.output:
            factor *= n
    expression = None
    if node.operands:
        symbol = opt_einsum.get_symbol
        eq = ",".join("".join(symbol(i) for i in idx) for idx in node.inputs)
        eq += "->" + "".join(symbol(i) for i in core)
        # Dynamic programming finds the flop-optimal order of a derivative network (its 'auto'
        # choice for mid-sized networks, branch-and-bound, can settle on huge outer products);
        # beyond a few dozen operands its search grows too slow and greedy takes over.
        optimize = "dp" if len(node.operands) <= _DP_MAX_OPERANDS else "greedy"
        expression = opt_einsum.contract_expression(eq, *(op.shape for op in node.operands), optimize=optimize)
    repeated = len(distinct) != len(node.output)
    return ContractPlan(
        expression=expression,
        core_axes=tuple(distinct.index(i) for i in core),
        distinct_shape=tuple(node.sizes[i] for i in distinct),
        out_shape=node.shape,
        diagonal=tuple(distinct.index(i) for i in node.output) if repeated else None,
        factor=factor,
    )


def _as_input(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as err:
        raise BindingError(f"variable {name!r}: the bound value cannot be read as an array ({err})") from err
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    elif array.dtype.kind not in "fc":
        raise BindingError(f"variable {name!r} is bound to an array of dtype {array.dtype}; bind a real array")
    if array.shape != shape:
        raise BindingError(
            f"variable {name!r} expects shape {shape} but was given an array of shape {array.shape}"
        )
    return array


class Compiled:
    """Expressions planned once; calling it evaluates them all, sharing intermediates.

    >>> import einsdiff as ed, numpy as np
    >>> x = ed.var("x", (3,))
    >>> f = ed.compile([x @ x, ed.grad(x @ x, x)])
    >>> value, gradient = f(x=np.array([1.0, 2.0, 3.0]))
    >>> float(value), gradient.tolist()
    (14.0, [2.0, 4.0, 6.0])
    """

    def __init__(self, outputs: Sequence[Expr]):
        self.outputs = tuple(outputs)
        self.variables = variables(*self.outputs)
        self.nodes = topological(self.outputs)
        self._slot = {node: k for k, node in enumerate(self.nodes)}
        self._plans = {node: plan_contract(node) for node in self.nodes if isinstance(node, Contract)}
        # After step k, the intermediates whose last consumer is k are dropped (outputs are kept).
        last_use = {self._slot[c]: k for k, node in enumerate(self.nodes) for c in children(node)}
        keep = {self._slot[o] for o in self.outputs}
        self._release: list[list[int]] = [[] for _ in self.nodes]
        for child, k in last_use.items():
            if child not in keep:
                self._release[k].append(child)
        self._const_dtypes = [n.value.dtype for n in self.nodes if isinstance(n, Const)]

    def __call__(self, **bindings) -> list[np.ndarray]:
        inputs = {}
        for v in self.variables:
            if v.name not in bindings:
                raise BindingError(
                    f"variable {v.name!r} (shape {v.shape}) has no value; pass {v.name}=<array of shape {v.shape}>"
                )
            inputs[v.name] = _as_input(v.name, bindings[v.name], v.shape)
        dtypes = [a.dtype for a in inputs.values()] + self._const_dtypes
        if not inputs:  # e.g. an identity Jacobian: follow the precision of what was passed
            dtypes += [v.dtype for v in bindings.values() if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
        dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
        values: list[np.ndarray | None] = [None] * len(self.nodes)
        for k, node in enumerate(self.nodes):
            args = [values[self._slot[c]] for c in children(node)]
            values[k] = self._run(node, args, inputs, dtype)
            for done in self._release[k]:
                values[done] = None
        return [_writable(values[self._slot[o]]) for o in self.outputs]

    def _run(self, node: Expr, args: list, inputs: dict, dtype) -> np.ndarray:
        if isinstance(node, Var):
            return inputs[node.name]
        if isinstance(node, Const):
            return node.value
        if isinstance(node, Contract):
            return self._plans[node].run(args, dtype)
        if isinstance(node, Map):
            return OPS[node.fn].numpy(args[0], node.param)
        if isinstance(node, Add):
            if not args:
                return np.zeros(node.shape, dtype=dtype)
            total = args[0] * node.coeffs[0]
            for arg, c in zip(args[1:], node.coeffs[1:], strict=True):
                total = total + arg * c if c != 1.0 else total + arg
            return total
        if isinstance(node, Reshape):
            return np.reshape(args[0], node.shape)
        raise TypeError(f"cannot evaluate a {type(node).__name__}")


def _writable(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    return array if array.flags.writeable else array.copy()


def compile_outputs(outputs: Sequence[Expr]) -> Compiled:
    """Plan ``outputs`` once; the result is called with the variables by name and returns a list."""
    if isinstance(outputs, Expr):
        outputs = [outputs]
    return Compiled(outputs)


def evaluate(expr: Expr, **bindings) -> np.ndarray:
    """The value of ``expr`` with arrays bound to its variables by name (unused ones are ignored)."""
    return Compiled([expr])(**bindings)[0]
