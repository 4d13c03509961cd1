"""The errors einsdiff raises: one base class, one subclass per kind of mistake.

Each subclass also derives from the builtin that fits, so ``except ValueError``
in user code keeps working.
"""


class EinsdiffError(Exception):
    """Base class of every error einsdiff raises on bad input.

    >>> import einsdiff as ed
    >>> try:
    ...     ed.einsum("ij,jk->ik", ed.var("A", (2, 3)), ed.var("B", (2, 3)))
    ... except ed.EinsdiffError as err:
    ...     print(type(err).__name__)
    ShapeError
    """


class SubscriptError(EinsdiffError, ValueError):
    """An einsum subscript string is malformed or does not fit its operands.

    >>> import einsdiff as ed
    >>> ed.einsum("ij,j->k", ed.var("A", (2, 3)), ed.var("x", (3,)))
    Traceback (most recent call last):
    ...
    einsdiff.errors.SubscriptError: output index 'k' in 'ij,j->k' appears in no input
    """


class ShapeError(EinsdiffError, ValueError):
    """Sizes disagree: an index with two sizes, or operands that do not broadcast.

    >>> import einsdiff as ed
    >>> ed.einsum("ij,jk->ik", ed.var("A", (2, 3)), ed.var("B", (2, 3)))
    Traceback (most recent call last):
    ...
    einsdiff.errors.ShapeError: index 'j' has size 3 in operand 0 but size 2 in operand 1; make the sizes agree (or 1 to broadcast)
    """


class WrtError(EinsdiffError, TypeError):
    """``wrt`` is not a variable (or a tuple of variables) of the expression.

    >>> import einsdiff as ed
    >>> ed.grad(ed.sum(ed.var("x", (3,))), "x")
    Traceback (most recent call last):
    ...
    einsdiff.errors.WrtError: wrt must be a variable made by ed.var (or a tuple of them), got str
    """


class NotScalarError(EinsdiffError, ValueError):
    """``grad`` was asked of an expression that is not a scalar.

    >>> import einsdiff as ed
    >>> x = ed.var("x", (3,))
    >>> ed.grad(x, x)
    Traceback (most recent call last):
    ...
    einsdiff.errors.NotScalarError: grad needs a scalar expression, got shape (3,); use ed.jacobian, or reduce it first (e.g. .sum())
    """


class BindingError(EinsdiffError, ValueError):
    """A variable is missing from the bindings, or bound to an array of the wrong shape.

    >>> import einsdiff as ed, numpy as np
    >>> ed.evaluate(2 * ed.var("x", (3,)), x=np.ones(4))
    Traceback (most recent call last):
    ...
    einsdiff.errors.BindingError: variable 'x' expects shape (3,) but was given an array of shape (4,)
    """


class VariableConflictError(EinsdiffError, ValueError):
    """Two variables share a name but not a shape.

    >>> import einsdiff as ed, numpy as np
    >>> twice = ed.var("x", (3,)).sum() + ed.var("x", (4,)).sum()
    >>> ed.evaluate(twice, x=np.ones(3))
    Traceback (most recent call last):
    ...
    einsdiff.errors.VariableConflictError: two variables are named 'x', with shapes (3,) and (4,); give them different names or one shape
    """


class OperandError(EinsdiffError, TypeError):
    """Something that is neither an expression nor an array-like was given as an operand.

    >>> import einsdiff as ed
    >>> ed.einsum("i->i", "text")
    Traceback (most recent call last):
    ...
    einsdiff.errors.OperandError: operand 0 is a str with dtype <U4; give an einsdiff expression or a real numeric array
    """


class NoMethodError(OperandError, AttributeError):
    """An expression lacks an ndarray method (``x.cumsum``): an AttributeError, so ``hasattr`` says False.

    >>> import einsdiff as ed
    >>> hasattr(ed.var("x", (3,)), "cumsum")
    False
    """


class OptionError(EinsdiffError, ValueError):
    """An option was given a value it does not take (e.g. ``order`` other than "C" or "F").

    >>> import einsdiff as ed
    >>> x = ed.var("x", (3,))
    >>> ed.jacobian_matrix(x, x, order="K")
    Traceback (most recent call last):
    ...
    einsdiff.errors.OptionError: order must be 'C' (row-major) or 'F' (column-major), got 'K'
    """


class ParseError(EinsdiffError, ValueError):
    """A formula in index notation cannot be read; the message marks the column.

    >>> import einsdiff as ed
    >>> ed.parse("f[i] = x[i] +", x=(3,))
    Traceback (most recent call last):
    ...
    einsdiff.errors.ParseError: expected a number, a variable, a function or '(', found the end of the formula (column 14)
      f[i] = x[i] +
                   ^
    """

    def __init__(self, message: str, formula: str = "", position: int = 0):
        self.formula, self.position = formula, position
        where = f"\n  {formula}\n  {' ' * position}^" if formula else ""
        super().__init__(f"{message} (column {position + 1}){where}")


class FormulaShapeError(ShapeError, ParseError):
    """Sizes disagree in a formula (``A*x: A is 4×3 but x has 4 entries``): a ShapeError
    that marks the column, as a ParseError does.

    >>> import einsdiff as ed
    >>> ed.parse("A*x", A=(4, 3), x=(4,))
    Traceback (most recent call last):
    ...
    einsdiff.errors.FormulaShapeError: A*x: A is 4×3 but x has 4 entries (column 2)
      A*x
       ^
    """


class UnknownVariableError(ParseError):
    """A formula names a variable whose shape was not given; ``name`` is that variable,
    ``ndim`` the number of indices the formula gives it and ``example`` a shape of that many
    axes to suggest (front ends phrase the fix their way: ``x=(3, 4)``, ``--shape x=3x4``).

    >>> import einsdiff as ed
    >>> ed.parse("f[i] = y[i]", x=(3,))
    Traceback (most recent call last):
    ...
    einsdiff.errors.UnknownVariableError: unknown variable 'y'; pass its shape, e.g. y=(3,) (column 8)
      f[i] = y[i]
             ^
    """

    def __init__(self, name: str, ndim: int, formula: str = "", position: int = 0):
        self.name, self.ndim, self.example = name, ndim, example_shape(ndim)
        super().__init__(f"unknown variable {name!r}; pass its shape, e.g. {name}={self.example}", formula, position)


def example_shape(ndim: int) -> tuple[int, ...]:
    """A shape of ``ndim`` axes to show in a hint: (3, 4, 5, 6, 3, 3, ...)."""
    return tuple((3, 4, 5, 6)[k] if k < 4 else 3 for k in range(ndim))


class EvaluationError(EinsdiffError, ArithmeticError):
    """A function is undefined at the values given: a singular matrix to ``inv``, a
    non-positive determinant to ``logdet``.

    >>> import einsdiff as ed, numpy as np
    >>> ed.evaluate(ed.inv(ed.var("S", (2, 2))), S=np.zeros((2, 2)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    einsdiff.errors.EvaluationError: inv: variable 'S' (a matrix of shape (2, 2)) is singular at the given values ...; make it invertible, e.g. add a multiple of the identity
    """


class MemoryLimitError(EinsdiffError, MemoryError):
    """A dense result or intermediate would exceed ``ed.config.max_dense_bytes``; raised
    before anything is allocated.

    >>> import einsdiff as ed, numpy as np
    >>> a, b = ed.var("a", (100,)), ed.var("b", (100,))
    >>> before, ed.config.max_dense_bytes = ed.config.max_dense_bytes, 1000
    >>> try:
    ...     ed.evaluate(ed.outer(a, b), a=np.ones(100), b=np.ones(100))
    ... except ed.MemoryLimitError as err:
    ...     print(str(err)[:64])
    evaluating this needs a dense array for the result of shape (100
    >>> ed.config.max_dense_bytes = before
    """


class BackendError(EinsdiffError, ImportError):
    """The array library a backend needs is not installed.

    >>> import einsdiff as ed
    >>> try:
    ...     ed.compile(ed.var("x", (3,)), backend="cupy")
    ... except ed.BackendError as err:  # where cupy is not installed
    ...     print("cupy" in str(err))
    ... else:
    ...     print(True)
    True
    """
