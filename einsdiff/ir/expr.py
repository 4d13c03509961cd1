"""The expression IR: a few immutable, hashable node types.

Every node has a ``shape``. Indices inside a :class:`Contract` are small integers
``0 .. len(sizes) - 1``; ``sizes[i]`` is the extent of index ``i``. Equality is
structural; the hash is a digest computed once at construction, because the DAG is compared
and looked up far more often than it is built, and because it orders operands
canonically (it is the same in every process).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field, fields

import numpy as np

from ..errors import NoMethodError, OperandError, ShapeError


_REPR_CHARACTERS = 300


class Expr:
    """Base of all nodes; gives them numpy-like operators.

    >>> import einsdiff as ed
    >>> x = ed.var("x", (3,))
    >>> (2 * x + 1).shape
    (3,)
    """

    __slots__ = ()

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy's ufuncs build expressions (NEP 13): np.exp(x), array + x; see :mod:`einsdiff.ir.numpy_ufuncs`."""
        from .numpy_ufuncs import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    # -- identity -----------------------------------------------------------
    def _key(self):
        return tuple(getattr(self, name) for name in _compared(type(self)))

    def __eq__(self, other):
        if self is other:
            return True
        if isinstance(other, np.ndarray):  # numpy 1.x turns array == expr into this, after np.equal refused
            raise OperandError("np.equal has no derivative einsdiff knows; == between an expression and an "
                               "array has no einsdiff meaning (== on expressions is structural equality): "
                               "compare values after ed.evaluate")
        return type(self) is type(other) and self._hash == other._hash and _same(self, other)

    def __hash__(self):
        return self._hash

    def _set_hash(self):
        digest = hashlib.blake2b(_stable((type(self).__name__,) + self._key()), digest_size=8)
        object.__setattr__(self, "_hash", int.from_bytes(digest.digest(), "little", signed=True))

    # -- shape --------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        """The size of the first axis, as ``len`` of an ndarray."""
        if not self.shape:
            raise OperandError("len() of a scalar expression: it has no axes (as numpy's len() of a 0-d array)")
        return self.shape[0]

    @property
    def T(self) -> Expr:
        from . import build

        return build.transpose(self)

    # -- the array API standard: its namespace is einsdiff.array_api --------------------------
    def __array_namespace__(self, /, *, api_version=None):
        """The namespace that builds expressions, for code written against ``xp = array_namespace(x)``.

        >>> import einsdiff as ed
        >>> ed.var("x", (3,)).__array_namespace__().__name__
        'einsdiff.array_api'
        """
        from .. import array_api

        return array_api.namespace(api_version)

    @property
    def dtype(self) -> np.dtype:
        """float64: what an expression is computed in."""
        return np.dtype(np.float64)

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def mT(self) -> Expr:
        """The last two axes swapped."""
        from .numpy_functions import matrix_transpose_of

        return matrix_transpose_of(self)

    def to_device(self, device, /, *, stream=None) -> Expr:
        if device != "cpu":
            raise OperandError(f"to_device: einsdiff has one device, 'cpu'; got {device!r}. To compute "
                               f"elsewhere, evaluate with a backend: ed.evaluate(x, ..., backend=\"torch\")")
        return self

    def __dlpack__(self, *args, **kwargs):
        raise OperandError("__dlpack__: an einsdiff expression is a formula, not a buffer, so it cannot be shared "
                           "through DLPack; evaluate it first (ed.evaluate) and share the array")

    def __dlpack_device__(self):
        raise OperandError("__dlpack_device__: an einsdiff expression is a formula, not a buffer; evaluate it first")

    # -- numpy's functions (NEP 18) and their method forms, built by ir.numpy_functions --------
    def __array_function__(self, func, types, args, kwargs):
        """``np.sum(x)``, ``np.linalg.solve(A, x)``... on expressions build expressions; a numpy
        function einsdiff has no derivative for raises an error naming it (never NotImplemented).

        >>> import numpy as np, einsdiff as ed
        >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
        >>> print(np.linalg.norm(np.dot(A, x)))
        f = sqrt(Σ[i](square(A[i,j] x[j])))
        """
        from .numpy_functions import call

        return call(func, args, kwargs)

    def sum(self, axis=None, dtype=None, out=None, keepdims=False, **options) -> Expr:
        """As ndarray.sum: ``x.sum(axis=0, keepdims=True)``."""
        return _numpy("sum", self, axis, dtype, out, keepdims, **options)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False, **options) -> Expr:
        """As ndarray.mean."""
        return _numpy("mean", self, axis, dtype, out, keepdims, **options)

    def max(self, axis=None, out=None, keepdims=False, **options) -> Expr:
        """As ndarray.max: ``x.max(axis=1, keepdims=True)``; ties share the derivative evenly."""
        return _numpy("max", self, axis, out, keepdims, **options)

    def min(self, axis=None, out=None, keepdims=False, **options) -> Expr:
        """As ndarray.min."""
        return _numpy("min", self, axis, out, keepdims, **options)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False, **options) -> Expr:
        """As ndarray.prod."""
        return _numpy("prod", self, axis, dtype, out, keepdims, **options)

    def reshape(self, *shape, **options) -> Expr:
        """As ndarray.reshape: ``x.reshape(2, -1)`` or ``x.reshape((2, -1))``."""
        return _numpy("reshape", self, shape[0] if len(shape) == 1 else shape, **options)

    def transpose(self, *axes) -> Expr:
        """As ndarray.transpose: ``x.transpose()``, ``x.transpose(1, 0, 2)`` or ``x.transpose((1, 0, 2))``."""
        return _numpy("transpose", self, (axes[0] if len(axes) == 1 else axes) or None)

    def ravel(self, order="C") -> Expr:
        return _numpy("ravel", self, order)

    def flatten(self, order="C") -> Expr:
        """As ndarray.flatten: the entries in one axis (an expression is never shared, so as ravel)."""
        return _numpy("ravel", self, order)

    def dot(self, b, out=None) -> Expr:
        return _numpy("dot", self, b, out)

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None) -> Expr:
        return _numpy("trace", self, offset, axis1, axis2, dtype, out)

    def diagonal(self, offset=0, axis1=0, axis2=1) -> Expr:
        return _numpy("diagonal", self, offset, axis1, axis2)

    def squeeze(self, axis=None) -> Expr:
        return _numpy("squeeze", self, axis)

    def swapaxes(self, axis1, axis2) -> Expr:
        return _numpy("swapaxes", self, axis1, axis2)

    # -- indexing: takes along the selected axes, built by ir.indexing ----------------------------
    def __getitem__(self, key) -> Expr:
        """As numpy's basic indexing, plus one integer array or boolean mask: ``x[0]``,
        ``x[:, 1:3]``, ``x[::-1, None]``, ``x[..., [0, 2]]``.

        >>> import einsdiff as ed
        >>> x = ed.var("x", (3, 4))
        >>> x[1:, ::-2].shape, x[0, ..., None].shape
        ((2, 2), (4, 1))
        """
        from .indexing import select

        return select(self, key)

    def __setitem__(self, key, value):
        raise OperandError(
            "x[...] = value: einsdiff expressions are immutable; build a new expression instead: "
            "np.where(mask, value, x) replaces entries, np.concatenate([x[:k], value, x[k + 1:]]) splices "
            "a part in"
        )

    def __iter__(self):
        """The entries along the first axis, as iterating an ndarray: ``a, b = x``."""
        if self.ndim == 0:
            raise OperandError("iteration over a scalar expression: it has no axes (as numpy's iteration over a 0-d array)")
        return (self[k] for k in range(self.shape[0]))

    # -- arithmetic: each operator is one builder of einsdiff.ir.build -----------
    def __neg__(self):
        from . import build

        return build.negative(self)

    def __pos__(self):
        return self

    def __bool__(self):
        raise OperandError("an einsdiff expression has no truth value; evaluate it first (ed.evaluate)")

    def __getattr__(self, name):
        # Only for names not found: an ndarray method einsdiff lacks gets an answer, not a bare AttributeError.
        if not name.startswith("_") and hasattr(np.ndarray, name):
            raise NoMethodError(f"x.{name}: einsdiff expressions do not have ndarray's {name!r} yet; evaluate "
                               f"first (ed.evaluate) for its value, or write it with the functions einsdiff "
                               f"builds (the guide docs/guides/numpy.md lists them)")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __array__(self, dtype=None, copy=None):
        # numpy would otherwise wrap the expression in an object array, silently.
        raise OperandError("an einsdiff expression has no array value until it is evaluated: numpy, or a library "
                           "converting its input (np.asarray, np.array([...]), scipy.special.softmax or logsumexp "
                           "without SCIPY_ARRAY_API=1), asked for one; evaluate it first (ed.evaluate), build with "
                           "the numpy functions einsdiff takes (np.stack([x, y]) for np.array([x, y])), use "
                           "ed.softmax / ed.log_softmax / ed.logsumexp, or set SCIPY_ARRAY_API=1 before importing "
                           "scipy so that its softmax and expit build expressions")

    # -- use ----------------------------------------------------------------
    def evaluate(self, bindings=None, /, **keywords) -> np.ndarray:
        """Evaluate with numpy arrays bound to the variables by name (a mapping and/or keywords)."""
        from ..engine.evaluate import evaluate
        from .variables import gather_bindings, variables

        return evaluate(self, gather_bindings("evaluate", bindings, keywords, (), variables(self)))

    def __str__(self):
        from ..notation.printing import to_index_notation

        return to_index_notation(self)

    def __repr__(self):
        """The formula with its shape, as the REPL shows it; a long one is cut (print shows all).

        >>> import einsdiff as ed
        >>> x = ed.var("x", (3,))
        >>> ed.hessian(x @ x, x)
        <f[i,j] = 2 δ[i,j]; i:3, j:3  shape (3, 3)>
        """
        from ..notation.printing import to_index_notation

        text = to_index_notation(self, share=True)  # linear in the DAG's size, however deep
        if len(text) > _REPR_CHARACTERS:
            text = f"{text[:_REPR_CHARACTERS]}… ({len(text):,} characters; print() shows all)"
        return f"<{text}  shape {self.shape}>"

    def _repr_latex_(self) -> str:
        """Jupyter shows an expression as its formula."""
        from ..notation.printing import to_latex

        return f"$${to_latex(self)}$$"


def _numpy(name: str, *args, **kwargs):
    """A method form: numpy's function ``name`` on the expression, as ``np.name(x, ...)`` builds it."""
    from .numpy_functions import call

    return call(getattr(np, name), args, kwargs)


_CHILDREN = ("operands", "terms", "args", "arg")  # the fields that hold nodes


@functools.cache
def _compared(cls: type) -> tuple[str, ...]:
    """The names of the fields that equality and the content hash read, in order."""
    return tuple(f.name for f in fields(cls) if f.compare)


def _same(a: Expr, b: Expr) -> bool:
    """Structural equality, each pair of distinct nodes compared once: graphs share
    subexpressions, and comparing two equal graphs as trees takes time exponential in depth."""
    done: set[tuple[int, int]] = set()
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if x is y:
            continue
        if type(x) is not type(y) or x._hash != y._hash:
            return False
        if (id(x), id(y)) in done:
            continue
        done.add((id(x), id(y)))
        for name in _compared(type(x)):
            u, v = getattr(x, name), getattr(y, name)
            if name not in _CHILDREN:
                if u != v:
                    return False
            elif isinstance(u, Expr):
                pending.append((u, v))
            elif len(u) != len(v):
                return False
            else:
                pending.extend(zip(u, v))
    return True


def _operator(builder: str, reflected: bool = False):
    def method(self, other):
        from . import build

        fn = getattr(build, builder)
        return fn(other, self) if reflected else fn(self, other)

    method.__name__ = f"__{'r' if reflected else ''}{builder}__"
    return method


for _name, _builder in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                        ("truediv", "divide"), ("pow", "power"), ("matmul", "matmul")]:
    setattr(Expr, f"__{_name}__", _operator(_builder))
    setattr(Expr, f"__r{_name}__", _operator(_builder, reflected=True))
# Comparisons give 0/1 masks (for ed.where); == and != stay structural equality.
for _name, _builder in [("gt", "greater"), ("lt", "less"), ("ge", "greater_equal"), ("le", "less_equal")]:
    setattr(Expr, f"__{_name}__", _operator(_builder))


def _stable(obj) -> bytes:
    """Bytes that identify ``obj`` in every process (``hash`` of a str is salted per process).

    Sorting by this digest orders operands the same way on every run.
    """
    if isinstance(obj, Expr):
        return obj._hash.to_bytes(8, "little", signed=True)
    if isinstance(obj, tuple):
        return b"(" + b",".join(_stable(o) for o in obj) + b")"
    return repr(obj).encode()


def _hash_field():
    return field(default=0, compare=False, repr=False, init=False)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Var(Expr):
    """A named input tensor: the thing derivatives are taken with respect to.

    A ``symmetric`` variable is a stack of symmetric matrices (its last two axes): S[..., i, j]
    = S[..., j, i]. It is another variable than a plain one of the same name and shape.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> isinstance(x, ed.Var), x.name, x.shape
    (True, 'x', (3,))
    """

    name: str
    shape: tuple[int, ...]
    symmetric: bool = False
    _hash: int = _hash_field()

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        object.__setattr__(self, "symmetric", bool(self.symmetric))
        if any(n < 0 for n in self.shape):
            raise ShapeError(f"variable {self.name!r} has a negative size in shape {self.shape}")
        if self.symmetric and (self.ndim < 2 or self.shape[-1] != self.shape[-2]):
            raise ShapeError(
                f"symmetric variable {self.name!r} has shape {self.shape}; a symmetric matrix needs "
                f"its last two axes of one size, e.g. ({self.shape[-1] if self.shape else 3}, "
                f"{self.shape[-1] if self.shape else 3})"
            )
        self._set_hash()

    def _key(self):
        # A plain variable hashes as it did before the flag existed: hashes order operands, so
        # printed forms of expressions without symmetric variables stay as they were.
        return (self.name, self.shape, "symmetric") if self.symmetric else (self.name, self.shape)

    def __repr__(self):
        return f"var({self.name!r}, {self.shape}{', symmetric=True' if self.symmetric else ''})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Const(Expr):
    """A constant array. Equal constants (same dtype, shape and bytes) are one node."""

    value: np.ndarray = field(compare=False)
    digest: str = field(default="", init=False)
    _hash: int = _hash_field()

    def __post_init__(self):
        value = np.array(self.value)  # a private, read-only copy: the IR is immutable
        if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.complexfloating)):
            value = value.astype(np.float64)
        value.flags.writeable = False
        object.__setattr__(self, "value", value)
        h = hashlib.blake2b(value.tobytes(), digest_size=16)
        h.update(f"{value.dtype.str}{value.shape}".encode())
        object.__setattr__(self, "digest", h.hexdigest())
        self._set_hash()

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    def __repr__(self):
        return f"Const(shape={self.shape})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Contract(Expr):
    """A generalized einsum over integer indices ``0 .. len(sizes) - 1``.

    Beyond numpy's einsum: an index may repeat in ``output`` (a Kronecker delta:
    the result lies on a diagonal) and an output index may appear in no input
    (broadcasting). A summed index in no input contributes a factor of its size.
    """

    operands: tuple[Expr, ...]
    inputs: tuple[tuple[int, ...], ...]
    output: tuple[int, ...]
    sizes: tuple[int, ...]
    _hash: int = _hash_field()

    def __post_init__(self):
        if len(self.operands) != len(self.inputs):
            raise ShapeError(f"{len(self.operands)} operands but {len(self.inputs)} index lists")
        n = len(self.sizes)
        for k, (op, idx) in enumerate(zip(self.operands, self.inputs, strict=True)):
            if len(idx) != op.ndim:
                raise ShapeError(f"operand {k} has {op.ndim} axes but {len(idx)} indices {idx}")
            for axis, (i, extent) in enumerate(zip(idx, op.shape, strict=True)):
                if not 0 <= i < n or self.sizes[i] != extent:
                    raise ShapeError(f"operand {k} axis {axis} has size {extent}, index {i} does not match")
        if any(not 0 <= i < n for i in self.output):
            raise ShapeError(f"output indices {self.output} out of range for {n} indices")
        self._set_hash()

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.sizes[i] for i in self.output)



@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Map(Expr):
    """An elementwise function ``fn`` (a name in :data:`einsdiff.ir.ops.OPS`) of ``arg``.

    ``param`` is the constant of a parametrized function (the exponent of ``power``).
    """

    fn: str
    arg: Expr
    param: float | None = None
    shape: tuple[int, ...] = field(default=(), compare=False, init=False)
    _hash: int = _hash_field()

    def __post_init__(self):
        object.__setattr__(self, "shape", self.arg.shape)  # stored: chains of maps can be deep
        self._set_hash()



@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Call(Expr):
    """A function of whole tensors that is not elementwise: ``fn`` names an entry of
    :data:`einsdiff.ir.functions.FUNCTIONS` (inv, det, solve, logsumexp, where, ...).

    ``param`` holds the function's constants (e.g. the reduced axes of logsumexp); the
    builders in :mod:`einsdiff.ir.matrix` check the arguments and compute ``shape``.
    """

    fn: str
    args: tuple[Expr, ...]
    param: tuple = ()
    shape: tuple[int, ...] = ()
    _hash: int = _hash_field()

    def __post_init__(self):
        self._set_hash()



@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Add(Expr):
    """A weighted sum of same-shaped terms; with no terms it is the zero of ``shape``."""

    terms: tuple[Expr, ...]
    coeffs: tuple[float, ...]
    shape: tuple[int, ...]
    _hash: int = _hash_field()

    def __post_init__(self):
        if len(self.terms) != len(self.coeffs):
            raise ShapeError(f"{len(self.terms)} terms but {len(self.coeffs)} coefficients")
        for k, t in enumerate(self.terms):
            if t.shape != self.shape:
                raise ShapeError(f"term {k} has shape {t.shape}, the sum has shape {self.shape}")
        self._set_hash()



@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Reshape(Expr):
    """``arg`` reshaped (row-major) to ``shape``."""

    arg: Expr
    shape: tuple[int, ...]
    _hash: int = _hash_field()

    def __post_init__(self):
        if int(np.prod(self.shape, dtype=np.int64)) != self.arg.size:
            raise ShapeError(f"cannot reshape {self.arg.shape} to {self.shape}")
        self._set_hash()



@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Materialize(Expr):
    """``arg`` evaluated once into an array that several networks read, instead of being
    spliced into (and recomputed by) each of them. Its value is ``arg``'s."""

    arg: Expr
    shape: tuple[int, ...] = field(default=(), compare=False, init=False)
    _hash: int = _hash_field()

    def __post_init__(self):
        object.__setattr__(self, "shape", self.arg.shape)
        self._set_hash()



def zero(shape) -> Add:
    """The zero tensor of ``shape`` (an :class:`Add` of no terms)."""
    return Add((), (), tuple(shape))


def bare(e: Expr) -> Expr:
    """``e`` without the Materialize markers around it: the value it stands for."""
    while isinstance(e, Materialize):
        e = e.arg
    return e


def is_symmetric(e: Expr) -> bool:
    """Whether ``e`` is known to be symmetric in its last two axes: a symmetric variable, a
    Gram matrix Xᵀ X or X Xᵀ, or the inverse of one (so its transpose is itself)."""
    e = bare(e)
    while isinstance(e, Call) and e.fn == "inv":
        e = bare(e.args[0])
    return (isinstance(e, Var) and e.symmetric) or _is_gram(e)


def _is_gram(e: Expr) -> bool:
    """Xᵀ X or X Xᵀ (batched alike): one matrix twice, summed over the same axis, its other
    axes the output's last two; swapping those swaps the two factors."""
    if not (isinstance(e, Contract) and len(e.operands) == 2 and e.operands[0] == e.operands[1]
            and e.ndim >= 2 and len(set(e.output)) == e.ndim):
        return False
    (a, b), out = e.inputs, e.output
    if not len(a) == len(b) == len(out):
        return False
    for k in (len(out) - 1, len(out) - 2):  # X's free axis: its last (Xᵀ X) or the one before (X Xᵀ)
        rest_a, rest_b = a[:k] + a[k + 1:], b[:k] + b[k + 1:]
        if (a[k], b[k]) == out[-2:] and rest_a == rest_b and rest_a[:-1] == out[:-2] and rest_a[-1] not in out:
            return True
    return False


def is_zero(e: Expr) -> bool:
    return isinstance(e, Add) and not e.terms


def is_ones(e: Expr) -> bool:
    """Whether ``e`` is the tensor of ones: a contraction of nothing, with no diagonal."""
    return isinstance(e, Contract) and not e.operands and len(set(e.output)) == len(e.output)


def as_expr(value, what: str = "operand") -> Expr:
    """``value`` as an expression: expressions pass through, array-likes become constants.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.as_expr(np.ones(3)) + x)
    f[i] = C0[i] + x[i]; C0: constant (3,)
    """
    if isinstance(value, Expr):
        return value
    try:
        array = np.asarray(value)
    except Exception as err:  # numpy raises many kinds for ragged or odd input
        raise OperandError(f"{what} cannot be read as an array: {err}") from err
    if array.dtype.kind not in "biuf":
        raise OperandError(
            f"{what} is a {type(value).__name__} with dtype {array.dtype}; "
            f"give an einsdiff expression or a real numeric array"
        )
    return Const(array)
