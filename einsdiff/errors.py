"""The errors einsdiff raises: one base class, one subclass per kind of mistake.

Each subclass also derives from the builtin that fits, so ``except ValueError``
in user code keeps working.
"""


class EinsdiffError(Exception):
    """Base class of every error einsdiff raises on bad input."""


class SubscriptError(EinsdiffError, ValueError):
    """An einsum subscript string is malformed or does not fit its operands."""


class ShapeError(EinsdiffError, ValueError):
    """Sizes disagree: an index with two sizes, or operands that do not broadcast."""


class WrtError(EinsdiffError, TypeError):
    """``wrt`` is not a variable (or a tuple of variables) of the expression."""


class NotScalarError(EinsdiffError, ValueError):
    """``grad`` was asked of an expression that is not a scalar."""


class BindingError(EinsdiffError, ValueError):
    """A variable is missing from the bindings, or bound to an array of the wrong shape."""


class VariableConflictError(EinsdiffError, ValueError):
    """Two variables share a name but not a shape."""


class OperandError(EinsdiffError, TypeError):
    """Something that is neither an expression nor an array-like was given as an operand."""


class NoMethodError(OperandError, AttributeError):
    """An expression lacks an ndarray method (``x.cumsum``): an AttributeError, so ``hasattr`` says False."""


class OptionError(EinsdiffError, ValueError):
    """An option was given a value it does not take (e.g. ``order`` other than "C" or "F")."""


class ParseError(EinsdiffError, ValueError):
    """A formula in index notation cannot be read; the message marks the column."""

    def __init__(self, message: str, formula: str = "", position: int = 0):
        self.formula, self.position = formula, position
        where = f"\n  {formula}\n  {' ' * position}^" if formula else ""
        super().__init__(f"{message} (column {position + 1}){where}")


class FormulaShapeError(ShapeError, ParseError):
    """Sizes disagree in a formula (``A*x: A is 4×3 but x has 4 entries``): a ShapeError
    that marks the column, as a ParseError does."""


class UnknownVariableError(ParseError):
    """A formula names a variable whose shape was not given; ``name`` is that variable,
    ``ndim`` the number of indices the formula gives it and ``example`` a shape of that many
    axes to suggest (front ends phrase the fix their way: ``x=(3, 4)``, ``--shape x=3x4``)."""

    def __init__(self, name: str, ndim: int, formula: str = "", position: int = 0):
        self.name, self.ndim, self.example = name, ndim, example_shape(ndim)
        super().__init__(f"unknown variable {name!r}; pass its shape, e.g. {name}={self.example}", formula, position)


def example_shape(ndim: int) -> tuple[int, ...]:
    """A shape of ``ndim`` axes to show in a hint: (3, 4, 5, 6, 3, 3, ...)."""
    return tuple((3, 4, 5, 6)[k] if k < 4 else 3 for k in range(ndim))


class EvaluationError(EinsdiffError, ArithmeticError):
    """A function is undefined at the values given: a singular matrix to ``inv``, a
    non-positive determinant to ``logdet``."""


class MemoryLimitError(EinsdiffError, MemoryError):
    """A dense result or intermediate would exceed ``ed.config.max_dense_bytes``; raised
    before anything is allocated."""


class BackendError(EinsdiffError, ImportError):
    """The array library a backend needs is not installed."""
