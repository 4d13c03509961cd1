"""Matrix notation, as matrix-calculus notes write results: ``2 Aᵀ (A x − y)``.

An expression of scalars, vectors (columns) and matrices reads as products, transposes,
traces, ``diag`` and elementwise functions when each of its contraction networks is a set
of chains: every summed index joins two factors. Then a chain that ends at the output is
a product ``A B x``, one that ends at two vectors a scalar ``xᵀ A y``, a closed one a
trace. An index shared by three factors (an elementwise product) is split by writing a
vector on it as ``diag(v)``; ``diag(u) v`` then reads ``u ⊙ v``. An index summed in one
factor only is a product with the ones vector ``𝟙``. A Jacobian of matrices (3 or 4 axes)
whose network splits in two is, flattened row-major (vec stacks rows) or column-major (vec
stacks columns, the Matrix Cookbook's convention), a Kronecker product ``X ⊗ Y``. What cannot
be written so (a commutation matrix, an index in three matrices) raises :class:`OptionError`:
index notation says it.

The form then reads as a textbook would write it: a trace or a scalar chain is turned to
show the fewest transposes (``tr(Xᵀ A X)``, not ``tr(X Xᵀ Aᵀ)``), sums of squares are
norms (``‖r‖``, ``‖X‖_F²``), a reciprocal scalar divides (``Aᵀ r / ‖r‖``), and a sum's
terms that share an end factor share it once (``(A + Aᵀ) x``) where that is shorter.

The form is a small tree (products, transposes, Kronecker products, diag, ⊙, norms,
traces); one visitor writes it as text, LaTeX or MathML, another evaluates it with numpy,
which the tests compare with ``ed.evaluate``.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, fields, replace

import numpy as np

from ..errors import OptionError
from ..ir.expr import Add, Call, Const, Contract, Expr, Map, Var, bare, is_symmetric
from ..ir.functions import FUNCTIONS
from .mathml import MathML, _mn, math as mathml_element
from .printing import Latex, Text, superscript
from .tree import scaled

# How tightly a piece binds: a name or f(...); juxtaposed factors; u / s; a sum, ⊙, ⊗.
_ATOM, _PRODUCT, _QUOTIENT, _LOOSE = 3, 2, 1, 0
# Mathematical bold letters and digits: MathML's vectors and matrices, as LaTeX's \mathbf.
_BOLD = str.maketrans({**{chr(65 + k): chr(0x1D400 + k) for k in range(26)},
                       **{chr(97 + k): chr(0x1D41A + k) for k in range(26)},
                       **{chr(48 + k): chr(0x1D7CE + k) for k in range(10)}})
_VEC_ORDERS = {"row": "row", "C": "row", "column": "column", "F": "column"}


class _Unsupported(Exception):
    """This part has no matrix form; the message says why."""


# -- the matrix form's tree ------------------------------------------------------------


class M:
    """Base of the matrix form's nodes."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Name(M):
    """A variable: a scalar, a vector (a column) or a matrix."""

    name: str
    ndim: int
    symmetric: bool = False  # Sᵀ is S


@dataclass(frozen=True, slots=True)
class Number(M):
    value: float
    ndim = 0


@dataclass(frozen=True, slots=True)
class Ones(M):
    """The ones vector ``𝟙``."""

    size: int
    ndim = 1


@dataclass(frozen=True, slots=True)
class Identity(M):
    """The identity matrix ``I``."""

    size: int
    ndim = 2


@dataclass(frozen=True, slots=True)
class Zeros(M):
    shape: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass(frozen=True, slots=True)
class Transpose(M):
    arg: M

    @property
    def ndim(self) -> int:
        return self.arg.ndim


@dataclass(frozen=True, slots=True)
class Matmul(M):
    """``A B``: the matrix product (a row vector first, a column vector last)."""

    left: M
    right: M
    ndim: int


@dataclass(frozen=True, slots=True)
class Scale(M):
    """Scalars in front: ``2 c Aᵀ x``."""

    factors: tuple[M, ...]

    @property
    def ndim(self) -> int:
        return self.factors[-1].ndim


@dataclass(frozen=True, slots=True)
class Divide(M):
    """``u / s``: division by a scalar."""

    num: M
    den: M

    @property
    def ndim(self) -> int:
        return self.num.ndim


@dataclass(frozen=True, slots=True)
class Norm(M):
    """``‖r‖`` (``p`` 2: Euclidean for a vector, ``‖X‖_F`` Frobenius for a matrix) or
    ``‖r‖₁`` (``p`` 1)."""

    arg: M
    p: int
    ndim = 0


@dataclass(frozen=True, slots=True)
class Hadamard(M):
    """``u ⊙ v``, the elementwise product of vectors."""

    left: M
    right: M
    ndim = 1


@dataclass(frozen=True, slots=True)
class Kron(M):
    """``X ⊗ Y``."""

    left: M
    right: M
    ndim = 2


@dataclass(frozen=True, slots=True)
class Outer(M):
    """``u vᵀ``."""

    left: M
    right: M
    ndim = 2


@dataclass(frozen=True, slots=True)
class Diag(M):
    """``diag(v)``, a vector on a diagonal, or ``diag(A)``, a matrix's diagonal. With
    ``hadamard`` it splits an index three factors share: it is symmetric, and times a
    vector reads ``u ⊙ v``."""

    arg: M
    hadamard: bool = False

    @property
    def ndim(self) -> int:
        return 2 if self.arg.ndim == 1 else 1


@dataclass(frozen=True, slots=True)
class Vec(M):
    """``vec(G)``: a matrix's entries stacked by rows, or by columns with ``column``."""

    arg: M
    column: bool
    ndim = 1


@dataclass(frozen=True, slots=True)
class AsMatrix(M):
    """A vector as a one-column matrix, or as a one-row matrix (written ``vᵀ``) with ``row``."""

    arg: M
    row: bool
    ndim = 1


@dataclass(frozen=True, slots=True)
class Trace(M):
    arg: M
    ndim = 0


@dataclass(frozen=True, slots=True)
class Total(M):
    """``sum(v)``: 𝟙ᵀ v."""

    arg: M
    ndim = 0


@dataclass(frozen=True, slots=True)
class Elementwise(M):
    """``tanh(A x)``, ``x∘²``, ``1/c``."""

    fn: str
    arg: M
    param: float | None = None

    @property
    def ndim(self) -> int:
        return self.arg.ndim


@dataclass(frozen=True, slots=True)
class Applied(M):
    """A function of whole tensors: ``X⁻¹``, ``det(X)``, ``X⁻¹ b``; ``node`` is its expression."""

    fn: str
    args: tuple[M, ...]
    node: Call
    ndim: int


@dataclass(frozen=True, slots=True)
class Sum(M):
    """Terms with their coefficients, in the order they print. ``loose`` (a Kronecker form's
    terms): no term is bracketed, ⊗ binding tighter than + and −."""

    terms: tuple[tuple[float, M], ...]
    ndim: int
    loose: bool = False


# -- questions of the tree -------------------------------------------------------------


def _name_like(m: M) -> bool:
    """Written as a single name: a transpose or an inverse needs no brackets around it."""
    return isinstance(m, Name | Ones | Identity)


def _notation(m: Elementwise | Applied) -> tuple[str, str]:
    """The function's matrix template and how tightly it binds, from its registry entry
    (a scalar argument may read differently: x², 1/x)."""
    note = FUNCTIONS[m.fn].notation
    if m.ndim == 0 and note.matrix_scalar:
        return note.matrix_scalar, note.matrix_scalar_binds
    return note.matrix, note.matrix_binds


def _binding(m: M) -> int:
    if isinstance(m, Number):
        return _ATOM if m.value >= 0 else _LOOSE
    if isinstance(m, Matmul | Scale | Outer):
        return _PRODUCT
    if isinstance(m, Divide):
        return _QUOTIENT
    if isinstance(m, Elementwise | Applied):
        return _PRODUCT if _notation(m)[1] == "product" else _ATOM
    if isinstance(m, Hadamard | Kron):
        return _LOOSE
    if isinstance(m, Sum):
        return _LOOSE if len(m.terms) > 1 or m.terms[0][0] < 0 else _PRODUCT
    if isinstance(m, AsMatrix):
        return _ATOM if m.row else _binding(m.arg)
    if isinstance(m, Transpose) and _applied(m.arg, "solve"):
        return _PRODUCT  # bᵀ A⁻ᵀ
    return _ATOM


def transpose(m: M) -> M:
    """``mᵀ``: a scalar and diag(v) are their own transposes, and (Mᵀ)ᵀ is M."""
    if m.ndim == 0 or (isinstance(m, Diag) and m.hadamard):
        return m
    if isinstance(m, Transpose):
        return m.arg
    if (isinstance(m, Name) and m.symmetric) or (isinstance(m, Applied) and is_symmetric(m.node)):
        return m
    return Transpose(m)


def _exponent(m: M) -> bool:
    """Written with an exponent: x∘², c², x∘³."""
    return isinstance(m, Elementwise) and m.fn in ("square", "power")


def _applied(m: M, fn: str) -> bool:
    return isinstance(m, Applied) and m.fn == fn


def _transposes(chain) -> int:
    """How many ᵀ a chain of (slot, factor) pairs writes."""
    return sum(isinstance(m, Transpose) for _, m in chain)


# -- rendering: three styles write the tree, one visitor evaluates it with numpy -------


@dataclass(frozen=True, slots=True)
class _Argument:
    """An argument put into a template; its format spec says how it is bracketed: ``name``
    unless a bare name, ``atom`` unless it binds as an atom, ``factor`` when it is a sum.
    ``raised``: the argument carries an exponent of its own and the template puts another
    on it, so an atom is bracketed too: (c²)¹·⁵, not c²¹·⁵."""

    style: _Text
    m: M
    raised: bool = False

    def __format__(self, spec: str) -> str:
        s = self.style
        if spec == "atom" and self.raised:
            return s.paren(s.render(self.m))
        return {"": s.render, "name": s.named, "atom": s.atom, "factor": s.factor}[spec](self.m)


class _Text:
    """Plain text, as matrix notation's reader reads it back: ``2 Aᵀ (A x − y)``. The LaTeX
    and MathML styles change its tokens; how a piece is bracketed is the tree's business
    (:func:`_binding`), the same in every style."""

    minus = "−"
    symbols: dict[str, str] = {}  # an operator as this style writes it
    norm_bars = ("‖", "‖")
    norm_marks = {(2, 2): "_F", (1, 1): "₁"}  # (p, ndim) -> the norm's subscript
    _number_style = Text()  # numbers as the index printers write them

    def render(self, m: M) -> str:
        return getattr(self, f"_{type(m).__name__.lower()}")(m)

    # -- bracketing and tokens --------------------------------------------------------
    def paren(self, text: str) -> str:
        return f"({text})"

    def atom(self, m: M) -> str:
        return self.render(m) if _binding(m) == _ATOM else self.paren(self.render(m))

    def factor(self, m: M) -> str:
        """As a factor of a product: a sum (or a quotient) gets brackets."""
        return self.render(m) if _binding(m) >= _PRODUCT else self.paren(self.render(m))

    def named(self, m: M) -> str:
        """As the base of ᵀ or ⁻¹: anything but a name gets brackets."""
        return self.render(m) if _name_like(m) else self.paren(self.render(m))

    def juxtaposed(self, *parts: str) -> str:
        return " ".join(parts)

    def infix(self, left: str, op: str, right: str) -> str:
        return f"{left} {self.symbols.get(op, op)} {right}"

    def signed(self, parts: list[tuple[bool, str]]) -> str:
        """Terms with their signs: ``a − b + c``, ``−a + b``."""
        out = ""
        for k, (negative, body) in enumerate(parts):
            if k:
                out = self.infix(out, self.minus if negative else "+", body)
            else:
                out = f"{self.minus}{body}" if negative else body
        return out

    def call(self, name: str, arg: str) -> str:
        return f"{name}({arg})"

    def number(self, value: float) -> str:
        return self._number_style.number(value)

    def parameter(self, value: float) -> str:
        return superscript(value)

    def superscript(self, base: str, mark: str) -> str:
        return base + {"T": "ᵀ", "-T": "⁻ᵀ", "-1": "⁻¹"}[mark]

    def subscripted(self, base: str, mark: str) -> str:
        return base + mark

    def template(self, m: Elementwise | Applied) -> str:
        return _notation(m)[0]


    def variable(self, name: str, ndim: int) -> str:
        return name

    def equation(self, left: str, right: str) -> str:
        return f"{left} = {right}"

    def partial(self, num: str, den: str, order: int) -> str:
        """∂f/∂x, or ∂²f/∂x² for ``order`` 2."""
        return f"∂²{num}/∂{den}²" if order == 2 else f"∂{num}/∂{den}"

    # -- one method per node ----------------------------------------------------------
    def _name(self, m: Name) -> str:
        return self.variable(m.name, m.ndim)

    def _number(self, m: Number) -> str:
        return self.number(m.value)

    def _ones(self, m: Ones) -> str:
        return "𝟙"

    def _identity(self, m: Identity) -> str:
        return "I"

    def _zeros(self, m: Zeros) -> str:
        return "0"

    def _transpose(self, m: Transpose) -> str:
        arg = m.arg
        if _applied(arg, "inv"):  # (X⁻¹)ᵀ is X⁻ᵀ
            return self.superscript(self.named(arg.args[0]), "-T")
        if _applied(arg, "solve"):  # (A⁻¹ b)ᵀ is bᵀ A⁻ᵀ
            a, b = arg.args
            mark = "-1" if is_symmetric(arg.node.args[0]) else "-T"
            return self.juxtaposed(self.factor(transpose(b)), self.superscript(self.named(a), mark))
        return self.superscript(self.named(arg), "T")

    def _matmul(self, m: Matmul) -> str:
        return self.juxtaposed(self.factor(m.left), self.factor(m.right))

    def _scale(self, m: Scale) -> str:
        return self.juxtaposed(*map(self.factor, m.factors))

    def _divide(self, m: Divide) -> str:
        signed = isinstance(m.num, Sum) and len(m.num.terms) == 1  # −u / s
        return self.infix(self.render(m.num) if signed else self.factor(m.num), "/", self.atom(m.den))

    def _norm(self, m: Norm) -> str:
        left, right = self.norm_bars
        return self.subscripted(f"{left}{self.render(m.arg)}{right}", self.norm_marks.get((m.p, m.arg.ndim), ""))

    def _hadamard(self, m: Hadamard) -> str:
        return self.infix(self.atom(m.left), "⊙", self.atom(m.right))  # y ⊙ (A x)

    def _kron(self, m: Kron) -> str:
        return self.infix(self.factor(m.left), "⊗", self.factor(m.right))

    def _outer(self, m: Outer) -> str:
        row = [transpose(f) for f in reversed(_flat(m.right))]  # (A b)ᵀ = bᵀ Aᵀ
        return self.juxtaposed(self.factor(m.left), *map(self.factor, row))

    def _diag(self, m: Diag) -> str:
        return self.call("diag", self.render(m.arg))

    def _vec(self, m: Vec) -> str:
        return self.call("vec", self.render(m.arg))

    def _asmatrix(self, m: AsMatrix) -> str:
        return self.render(transpose(m.arg)) if m.row else self.render(m.arg)

    def _trace(self, m: Trace) -> str:
        return self.call("tr", self.render(m.arg))

    def _total(self, m: Total) -> str:
        return self.call("sum", self.render(m.arg))

    def _elementwise(self, m: Elementwise | Applied) -> str:
        args = (m.arg,) if isinstance(m, Elementwise) else m.args
        param = getattr(m, "param", None)
        p = "" if param is None else self.parameter(param)
        raised = _exponent(m) and all(map(_exponent, args))
        return self.template(m).format(*(_Argument(self, a, raised) for a in args), p=p)

    _applied = _elementwise

    def _sum(self, m: Sum) -> str:
        parts = []
        for k, (c, term) in enumerate(m.terms):
            if abs(c) != 1:
                body = self.juxtaposed(self.number(abs(c)), self.factor(term))
            elif m.loose or _binding(term) >= _QUOTIENT or (k == 0 and c > 0):
                body = self.render(term)
            else:
                body = self.atom(term)
            parts.append((c < 0, body))
        return self.signed(parts)


# Matrix templates the LaTeX and MathML styles write differently from index notation's
# (the registry's, which fit every other function): ∘ powers, brackets after det.
_LATEX_TEMPLATES = {  # fn: (template, template for a scalar argument)
    "square": (r"{0:atom}^{{\circ 2}}", "{0:atom}^{{2}}"),
    "power": (r"{0:atom}^{{\circ {p}}}", "{0:atom}^{{{p}}}"),
    "reciprocal": (r"{0:atom}^{{\circ -1}}", r"\frac{{1}}{{{0}}}"),
    "inv": ("{0:name}^{{-1}}",) * 2,
    "det": (r"\det\left({0}\right)",) * 2,
    "logdet": (r"\log\det\left({0}\right)",) * 2,
    "solve": ("{0:name}^{{-1}} {1:factor}",) * 2,
    "logsumexp": (r"\operatorname{{logsumexp}}\left({0}\right)",) * 2,
    "max": (r"\max\left({0}\right)",) * 2,
    "min": (r"\min\left({0}\right)",) * 2,
    "prod": (r"\prod\left({0}\right)",) * 2,
}
_APPLY = "<mo>&#x2061;</mo>"
_MATHML_TEMPLATES = {
    "square": ("<msup>{0:atom}<mrow><mo>∘</mo><mn>2</mn></mrow></msup>", "<msup>{0:atom}<mn>2</mn></msup>"),
    "power": ("<msup>{0:atom}<mrow><mo>∘</mo>{p}</mrow></msup>", "<msup>{0:atom}{p}</msup>"),
    "reciprocal": ("<msup>{0:atom}<mrow><mo>∘</mo><mo>−</mo><mn>1</mn></mrow></msup>",
                   "<mfrac><mn>1</mn><mrow>{0}</mrow></mfrac>"),
    "inv": ("<msup>{0:name}<mrow><mo>−</mo><mn>1</mn></mrow></msup>",) * 2,
    "det": (f"<mi>det</mi>{_APPLY}<mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>",) * 2,
    "logdet": (f"<mi>log</mi>{_APPLY}<mi>det</mi>{_APPLY}<mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>",) * 2,
    "solve": ("<msup>{0:name}<mrow><mo>−</mo><mn>1</mn></mrow></msup>{1:factor}",) * 2,
    "logsumexp": (f"<mi>logsumexp</mi>{_APPLY}<mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>",) * 2,
    "max": (f"<mi>max</mi>{_APPLY}<mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>",) * 2,
    "min": (f"<mi>min</mi>{_APPLY}<mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>",) * 2,
    "prod": ("<mo>∏</mo><mrow><mo>(</mo>{0}<mo>)</mo></mrow>",) * 2,
}


class _Latex(_Text):
    r"""LaTeX: vectors and matrices bold, ``\mathbf{A}^\top``, ``\|\mathbf{r}\|``, ``\frac{u}{s}``."""

    minus = "-"
    symbols = {"⊙": r"\odot", "⊗": r"\otimes"}
    norm_bars = (r"\|", r"\|")
    norm_marks = {(2, 2): "_{F}", (1, 1): "_{1}"}
    _number_style = Latex()

    def paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def atom(self, m: M) -> str:
        """A base of ^: in braces unless a name or bracketed, so that x^{∘2} squared is not a double superscript."""
        text = super().atom(m)
        return text if _name_like(m) or _binding(m) != _ATOM else f"{{{text}}}"

    def call(self, name: str, arg: str) -> str:
        return rf"\operatorname{{{name}}}{self.paren(arg)}"

    def parameter(self, value: float) -> str:
        return self.number(value)

    def superscript(self, base: str, mark: str) -> str:
        return base + {"T": r"^\top", "-T": r"^{-\top}", "-1": "^{-1}"}[mark]

    def template(self, m: Elementwise | Applied) -> str:
        own = _LATEX_TEMPLATES.get(m.fn)
        return own[m.ndim == 0] if own else FUNCTIONS[m.fn].notation.latex

    def _divide(self, m: Divide) -> str:
        return rf"\frac{{{self.render(m.num)}}}{{{self.render(m.den)}}}"

    def partial(self, num: str, den: str, order: int) -> str:
        if order == 2:
            return rf"\frac{{\partial^{{2}} {num}}}{{\partial {den}^{{2}}}}"
        return rf"\frac{{\partial {num}}}{{\partial {den}}}"

    def variable(self, name: str, ndim: int) -> str:
        escaped = name.replace("_", r"\_")
        if ndim:
            return rf"\mathbf{{{escaped}}}"
        return escaped if len(name) == 1 else rf"\mathrm{{{escaped}}}"

    def _ones(self, m: Ones) -> str:
        return r"\mathbf{1}"

    def _identity(self, m: Identity) -> str:
        return r"\mathbf{I}"

    def _zeros(self, m: Zeros) -> str:
        return r"\mathbf{0}"



class _MathML(_Text):
    """MathML Core elements, each piece one element (an ``<mrow>`` when it is several):
    vectors and matrices in bold letters, ``<msup>`` for ᵀ and powers, ``<mfrac>`` for a quotient."""

    minus = "<mo>−</mo>"
    norm_bars = ("<mo>‖</mo>", "<mo>‖</mo>")
    norm_marks = {(2, 2): "<mi>F</mi>", (1, 1): "<mn>1</mn>"}
    _number_style = MathML()

    def paren(self, text: str) -> str:
        return f"<mrow><mo>(</mo>{text}<mo>)</mo></mrow>"

    def juxtaposed(self, *parts: str) -> str:
        return f"<mrow>{''.join(parts)}</mrow>"

    def infix(self, left: str, op: str, right: str) -> str:
        return f"<mrow>{left}{op if op.startswith('<') else f'<mo>{op}</mo>'}{right}</mrow>"

    def signed(self, parts: list[tuple[bool, str]]) -> str:
        inner = "".join(f"{self.minus if negative else '<mo>+</mo>' if k else ''}{body}"
                        for k, (negative, body) in enumerate(parts))
        return f"<mrow>{inner}</mrow>"

    def call(self, name: str, arg: str) -> str:
        return f"<mrow><mi>{name}</mi>{_APPLY}{self.paren(arg)}</mrow>"

    def number(self, value: float) -> str:
        return f"<mrow>{self._number_style.number(value)}</mrow>"

    def parameter(self, value: float) -> str:
        return _mn(value)

    def superscript(self, base: str, mark: str) -> str:
        script = {"T": "<mi>⊤</mi>", "-T": "<mrow><mo>−</mo><mi>⊤</mi></mrow>",
                  "-1": "<mrow><mo>−</mo><mn>1</mn></mrow>"}[mark]
        return f"<msup>{base}{script}</msup>"

    def subscripted(self, base: str, mark: str) -> str:
        return f"<msub><mrow>{base}</mrow>{mark}</msub>" if mark else f"<mrow>{base}</mrow>"

    def template(self, m: Elementwise | Applied) -> str:
        own = _MATHML_TEMPLATES.get(m.fn)
        return own[m.ndim == 0] if own else FUNCTIONS[m.fn].notation.mathml

    def _elementwise(self, m: Elementwise | Applied) -> str:
        return f"<mrow>{super()._elementwise(m)}</mrow>"

    _applied = _elementwise

    def _divide(self, m: Divide) -> str:
        return f"<mfrac>{self.render(m.num)}{self.render(m.den)}</mfrac>"

    def equation(self, left: str, right: str) -> str:
        return f"<mrow>{left}<mo>=</mo>{right}</mrow>"

    def partial(self, num: str, den: str, order: int) -> str:
        if order == 2:
            return (f"<mfrac><mrow><msup><mo>∂</mo><mn>2</mn></msup>{num}</mrow>"
                    f"<mrow><mo>∂</mo><msup>{den}<mn>2</mn></msup></mrow></mfrac>")
        return f"<mfrac><mrow><mo>∂</mo>{num}</mrow><mrow><mo>∂</mo>{den}</mrow></mfrac>"

    def variable(self, name: str, ndim: int) -> str:
        return f"<mi>{html.escape(name.translate(_BOLD) if ndim else name)}</mi>"

    def _ones(self, m: Ones) -> str:
        return "<mn>𝟏</mn>"

    def _identity(self, m: Identity) -> str:
        return "<mi>𝐈</mi>"

    def _zeros(self, m: Zeros) -> str:
        return "<mn>𝟎</mn>"


_STYLES = {"text": _Text(), "latex": _Latex(), "mathml": _MathML()}


def text(m: M) -> str:
    """The matrix form as matrix-calculus notes write it."""
    return _STYLES["text"].render(m)


def evaluate(m: M, values) -> np.ndarray:
    """The matrix form's value with numpy, the variables' arrays by name from ``values``."""
    return _VALUE[type(m)](m, lambda node: evaluate(node, values), values)


def _transpose_value(m: Transpose, value) -> np.ndarray:
    v = value(m.arg)
    return v.T if m.ndim == 2 else v


def _norm_value(m: Norm, value) -> np.ndarray:
    v = np.asarray(value(m.arg))
    return np.sum(np.abs(v)) if m.p == 1 else np.sqrt(np.sum(v * v))


_VALUE = {
    Name: lambda m, value, values: np.asarray(values[m.name]),
    Number: lambda m, value, values: m.value,
    Ones: lambda m, value, values: np.ones(m.size),
    Identity: lambda m, value, values: np.eye(m.size),
    Zeros: lambda m, value, values: np.zeros(m.shape),
    Transpose: lambda m, value, values: _transpose_value(m, value),
    Matmul: lambda m, value, values: value(m.left) @ value(m.right),
    Scale: lambda m, value, values: math.prod((value(f) for f in m.factors[1:]), start=value(m.factors[0])),
    Divide: lambda m, value, values: value(m.num) / value(m.den),
    Norm: lambda m, value, values: _norm_value(m, value),
    Hadamard: lambda m, value, values: value(m.left) * value(m.right),
    Kron: lambda m, value, values: np.kron(value(m.left), value(m.right)),
    Outer: lambda m, value, values: np.outer(value(m.left), value(m.right)),
    Diag: lambda m, value, values: np.diag(value(m.arg)),
    Vec: lambda m, value, values: np.ravel(value(m.arg), order="F" if m.column else "C"),
    AsMatrix: lambda m, value, values: value(m.arg)[None, :] if m.row else value(m.arg)[:, None],
    Trace: lambda m, value, values: np.trace(value(m.arg)),
    Total: lambda m, value, values: np.sum(value(m.arg)),
    Elementwise: lambda m, value, values: FUNCTIONS[m.fn].numpy(value(m.arg), m.param),
    Applied: lambda m, value, values: FUNCTIONS[m.fn].numpy(m.node, [value(a) for a in m.args]),
    Sum: lambda m, value, values: sum(c * value(t) for c, t in m.terms),
}


# -- as a textbook writes it: norms, quotients, shared factors -------------------------


def _readable(m: M, done: dict[int, M] | None = None) -> M:
    """``m`` rewritten bottom-up by the rules below; each rewrite keeps the value. A node
    shared in the tree is rewritten once (``done`` by identity)."""
    done = {} if done is None else done
    if id(m) not in done:
        new = _children(m, lambda child: _readable(child, done))
        for kind, rule in _RULES:
            if isinstance(new, kind):
                new = rule(new)
        done[id(m)] = new
    return done[id(m)]


def _parts(m: M) -> list[M]:
    """``m``'s children."""
    out = []
    for field in fields(m):
        value = getattr(m, field.name)
        if isinstance(value, M):
            out.append(value)
        elif field.name == "terms":
            out += [term for _, term in value]
        elif field.name in ("factors", "args"):
            out += value
    return out


def _children(m: M, f) -> M:
    """``m`` with ``f`` applied to each of its children."""
    changed = {}
    for field in fields(m):
        value = getattr(m, field.name)
        if isinstance(value, M):
            new = f(value)
        elif field.name == "terms":
            new = tuple((c, f(term)) for c, term in value)
        elif field.name in ("factors", "args"):
            new = tuple(map(f, value))
        else:
            continue
        if new != value:
            changed[field.name] = new
    return replace(m, **changed) if changed else m


def _flat(m: M) -> list[M]:
    """The factors of a product, in order."""
    return _flat(m.left) + _flat(m.right) if isinstance(m, Matmul) else [m]


def _summed(m: M) -> M | None:
    """What ``m`` sums every entry of (``sum(v)``, ``𝟙ᵀ X 𝟙``), or None."""
    if isinstance(m, Total):
        return m.arg
    factors = _flat(m) if isinstance(m, Matmul) and m.ndim == 0 else []
    if (len(factors) == 3 and isinstance(factors[0], Transpose) and isinstance(factors[0].arg, Ones)
            and isinstance(factors[2], Ones)):
        return factors[1]
    return None


def _sum_of_squares(m: M) -> M:
    """sum(r∘²) = ‖r‖² (‖X‖_F² for a matrix); sum(abs(r)) = ‖r‖₁ for a vector r."""
    entries = _summed(m)
    if isinstance(entries, Elementwise) and entries.fn == "square":
        return Elementwise("square", Norm(entries.arg, 2))
    if isinstance(entries, Elementwise) and entries.fn == "abs" and entries.ndim == 1:
        return Norm(entries.arg, 1)
    return m


def _power_of_norm(m: Elementwise) -> M:
    """sqrt(‖r‖²) = ‖r‖, and (‖r‖²)ᵖ = ‖r‖²ᵖ: powers of a norm (never negative) merge."""
    inner = m.arg
    if not (m.ndim == 0 and _exponent(inner) and isinstance(inner.arg, Norm)):
        return m
    power = {"sqrt": 0.5, "square": 2.0, "power": m.param}.get(m.fn)
    if power is None:
        return m
    power *= inner.param if inner.fn == "power" else 2.0
    if power == 1:
        return inner.arg
    return Elementwise("square", inner.arg) if power == 2 else Elementwise("power", inner.arg, power)


def _denominator(m: M) -> M | None:
    """s where ``m`` is a scalar 1/s (or s to a negative power), else None."""
    if m.ndim or not isinstance(m, Elementwise):
        return None
    if m.fn == "reciprocal":
        return m.arg
    if _exponent(m) and (m.fn == "square" or m.param > 0) and _denominator(m.arg) is not None:  # (1/s)ᵖ = 1/sᵖ
        return _power_of_norm(replace(m, arg=_denominator(m.arg)))
    if m.fn == "power" and m.param < 0:  # s^(−p) is 1/s^p, and √(‖r‖²) is ‖r‖
        p = -m.param
        if p == 1:
            return m.arg
        named = {2: "square", 0.5: "sqrt"}
        return _power_of_norm(Elementwise(named[p], m.arg) if p in named else Elementwise("power", m.arg, p))
    return None


def _quotient(m: Scale) -> M:
    """(1/s) u = u / s: a reciprocal scalar factor divides the others; c (u / s) = c u / s."""
    nums, dens = [], []
    for f in m.factors:
        if isinstance(f, Divide):
            nums.append(f.num)
            dens += f.den.factors if isinstance(f.den, Scale) else [f.den]
        elif _denominator(f) is not None:
            dens.append(_denominator(f))
        else:
            nums.append(f)
    if not dens or not nums:
        return m
    return Divide(_product_of(nums), _product_of(dens))


def _product_of(factors: list[M]) -> M:
    """One factor, or the scalars in front of the last: nested products flattened."""
    flat = [g for f in factors for g in (f.factors if isinstance(f, Scale) else (f,))]
    return flat[0] if len(flat) == 1 else Scale(tuple(flat))


@dataclass(frozen=True, slots=True)
class _Term:
    """A sum's term as a product: its number, its other scalar factors, its chain of factors
    (a row vector first when ``ndim`` is 0, a column vector last when it is 0 or 1)."""

    coeff: float
    scalars: tuple[M, ...]
    chain: tuple[M, ...]
    ndim: int

    @classmethod
    def of(cls, c: float, m: M) -> _Term:
        scalars = []
        if isinstance(m, Divide):  # u / s is (1/s) u
            scalars += [Elementwise("reciprocal", d) for d in (m.den.factors if isinstance(m.den, Scale) else (m.den,))]
            m = m.num
        if isinstance(m, Sum) and len(m.terms) == 1:
            (k, m), = m.terms
            c *= k
        if isinstance(m, Scale):
            *front, m = m.factors
            for f in front:
                if isinstance(f, Number):
                    c *= f.value
                else:
                    scalars.append(f)
        return cls(c, tuple(scalars), tuple(_flat(m)), m.ndim)


def _chain(factors, ndim: int) -> M:
    """The product of oriented factors (a column vector last unless ``ndim`` is 2)."""
    acc = factors[-1]
    for k in range(len(factors) - 2, -1, -1):
        acc = Matmul(factors[k], acc, ndim if k == 0 else 1 + (factors[-1].ndim == 2))
    return acc


def _shared(chains, step: int) -> int:
    """How many factors the chains share at their start (``step`` 1) or end (-1), each keeping one of its own."""
    n = 0
    while all(len(c) > n + 1 for c in chains):
        ends = {c[n] if step == 1 else c[-1 - n] for c in chains}
        if len(ends) > 1:
            break
        n += 1
    return n


def _scaled(scalars: list[M], m: M) -> M:
    """Scalars in front of ``m``, a reciprocal one dividing it."""
    scaled_m = _times(scalars, m)
    return _quotient(scaled_m) if isinstance(scaled_m, Scale) else scaled_m


def _common(groups) -> list[M]:
    """What every group holds, as often as every group holds it, in the first group's order."""
    common = list(groups[0])
    for group in groups[1:]:
        left, kept = list(group), []
        for item in common:
            if item in left:
                left.remove(item)
                kept.append(item)
        common = kept
    return common


def _factored_group(m: Sum, group: tuple[int, ...]) -> M:
    """The terms ``group`` of ``m`` written as one: L (c₁ R₁ + c₂ R₂) K for terms c₁ L R₁ K
    and c₂ L R₂ K, a shared coefficient and shared scalars in front."""
    terms = [_Term.of(*m.terms[k]) for k in group]
    lead = _shared([tm.chain for tm in terms], 1)
    trail = _shared([tm.chain[lead:] for tm in terms], -1)
    coeffs = [tm.coeff for tm in terms]
    common = coeffs[0] if all(abs(c) == abs(coeffs[0]) for c in coeffs) else 1.0
    shared_scalars = _common([tm.scalars for tm in terms])
    inner = []
    for tm in terms:
        own = list(tm.scalars)
        for s in shared_scalars:
            own.remove(s)
        middle = tm.chain[lead:len(tm.chain) - trail]
        # The middle keeps an axis on each side it is joined on, and on a side left free.
        ndim = (lead > 0 or tm.ndim >= 1) + (trail > 0 or tm.ndim == 2)
        inner.append((tm.coeff / common, _scaled(own, _chain(middle, ndim))))
    ndim = terms[0].ndim
    first = terms[0].chain
    factors = [*first[:lead], Sum(tuple(inner), inner[0][1].ndim), *first[len(first) - trail:]]
    together = _scaled(shared_scalars, _chain(factors, ndim))
    out = tuple((common, together) if k == group[0] else m.terms[k] for k in range(len(m.terms)) if k not in group[1:])
    if len(out) == 1 and out[0][0] == 1:
        return out[0][1]
    return Sum(out, m.ndim)


def _groups(m: Sum):
    """Sets of two or more terms whose chains start, or end, with the same factor, or that
    share a scalar factor (1/s in u / s)."""
    terms = [_Term.of(c, term) for c, term in m.terms]
    keys = [[("start", tm.chain[0]), ("end", tm.chain[-1])] if len(tm.chain) > 1 else [] for tm in terms]
    for tm, own in zip(terms, keys, strict=True):
        own += [("scalar", s) for s in dict.fromkeys(tm.scalars)]
    by_key: dict[tuple[str, M], list[int]] = {}
    for k, own in enumerate(keys):
        for key in own:
            by_key.setdefault(key, []).append(k)
    return list(dict.fromkeys(tuple(ks) for ks in by_key.values() if len(ks) > 1))


def _factor_out(m: Sum) -> M:
    """A X + B X = (A + B) X, xᵀ A + xᵀ B = xᵀ (A + B), 2 A x − 2 B x = 2 (A − B) x: terms
    that share an end factor share it once, where that writes fewer symbols."""
    best = m
    while isinstance(best, Sum) and not best.loose:
        trials = [_factored_group(best, group) for group in _groups(best)]
        shortest = min(trials, key=_length, default=None)
        if shortest is None or _length(shortest) >= _length(best):
            break
        best = shortest
    return best


def _length(m: M) -> tuple[int, int]:
    """How long ``m`` reads: the symbols it writes (names, numbers), then its characters."""
    return _symbols(m), len(text(m))


def _symbols(m: M) -> int:
    if isinstance(m, Name | Number | Ones | Identity | Zeros):
        return 1
    coefficients = sum(abs(c) != 1 for c, _ in m.terms) if isinstance(m, Sum) else 0
    return coefficients + sum(map(_symbols, _parts(m)))


def _scaled_quotients(m: Sum) -> M:
    """c (u / s) = c u / s."""
    terms = tuple((math.copysign(1.0, c), Divide(_product_of([Number(abs(c)), t.num]), t.den))
                  if isinstance(t, Divide) and abs(c) != 1 else (c, t) for c, t in m.terms)
    if len(terms) == 1 and terms[0][0] == 1:
        return terms[0][1]
    return replace(m, terms=terms)


_RULES = (  # (the node they rewrite, the rule), in the order they apply
    (Total | Matmul, _sum_of_squares),
    (Elementwise, _power_of_norm),
    (Scale, _quotient),
    (Sum, _factor_out),
    (Sum, _scaled_quotients),
)


@dataclass(frozen=True, slots=True)
class MatrixForm:
    r"""An expression's matrix form: its tree, what it reads as in text, LaTeX and MathML,
    and its value.

    >>> import einsdiff as ed, numpy as np
    >>> A, x = ed.var("A", (2, 2)), ed.var("x", (2,))
    >>> form = matrix_form(ed.grad(x @ A @ x, x))
    >>> form.text
    '(A + Aᵀ) x'
    >>> print(form.latex)
    \left(\mathbf{A} + \mathbf{A}^\top\right) \mathbf{x}
    >>> form.evaluate({"A": np.eye(2), "x": np.ones(2)}).tolist()
    [2.0, 2.0]
    """

    tree: M

    @property
    def text(self) -> str:
        return text(self.tree)

    @property
    def latex(self) -> str:
        """LaTeX: vectors and matrices bold, ``\\mathbf{A}^\\top``, ``\\|\\mathbf{r}\\|``, ``\\frac{u}{s}``."""
        return _STYLES["latex"].render(self.tree)

    @property
    def mathml(self) -> str:
        """A MathML ``<math>`` element (display block), as :func:`einsdiff.to_mathml` writes one."""
        return mathml_element(_STYLES["mathml"].render(self.tree))

    def evaluate(self, values) -> np.ndarray:
        """The value with numpy, each variable's array by name from ``values``."""
        with np.errstate(all="ignore"):
            return np.asarray(evaluate(self.tree, values), dtype=float)


# -- from expressions ------------------------------------------------------------------


def _product(factors: list[M], ndim: int) -> M:
    """Factors already oriented (a row vector first, a column vector last) multiplied. In
    a vector, diag(u) times the rest is u ⊙ (the rest)."""
    acc = factors[-1]
    for f in reversed(factors[:-1]):
        if isinstance(f, Diag) and f.hadamard and ndim == 1:
            acc = Hadamard(f.arg, acc)
        else:
            acc = Matmul(f, acc, ndim)
    return acc


def _times(scalars: list[M], m: M) -> M:
    """Scalar factors in front: ``2 c Aᵀ x``."""
    if not scalars:
        return m
    if m == Number(1.0):
        m, scalars = scalars[-1], scalars[:-1]
        if not scalars:
            return m
    return Scale((*scalars, m))


class _Converter:
    def __init__(self):
        self.done: dict[Expr, M] = {}

    def convert(self, node: Expr) -> M:
        node = bare(node)
        if node not in self.done:
            if node.ndim > 2:
                raise _Unsupported(f"a tensor of {node.ndim} axes (shape {node.shape})")
            self.done[node] = self._convert(node)
        return self.done[node]

    def _convert(self, node: Expr) -> M:
        if isinstance(node, Var):
            return Name(node.name, node.ndim, node.symmetric)
        if isinstance(node, Const):
            if node.ndim:
                raise _Unsupported(f"a constant array of shape {node.shape}")
            return Number(float(node.value))
        if isinstance(node, Map):
            return Elementwise(node.fn, self.convert(node.arg), node.param)
        if isinstance(node, Add):
            return self._add(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Contract):
            return self._contract(node)
        raise _Unsupported(f"a {type(node).__name__.lower()}")

    def _add(self, node: Add) -> M:
        if not node.terms:
            return Zeros(node.shape)
        if node.coeffs == (1.0,):
            return self.convert(node.terms[0])
        ordered = sorted(zip(node.terms, node.coeffs, strict=True), key=lambda tc: tc[1] < 0)
        return Sum(tuple((c, self.convert(term)) for term, c in ordered), node.ndim)

    def _call(self, node: Call) -> M:
        """A function with a matrix template of its own (``X⁻¹``, ``det(X)``), its arguments
        whole: none broadcast, a reduction over all of its argument (logsumexp(x), not along an axis)."""
        args = tuple(self.convert(a) for a in node.args)
        entry = FUNCTIONS[node.fn]
        broadcast = entry.syntax is not None and entry.syntax.form == "piecewise" and any(
            arg.shape != node.shape for arg in node.args)
        partial = bool(node.param) and len(node.param) != node.args[0].ndim
        if not entry.notation.matrix or broadcast or partial:
            raise _Unsupported(f"{node.fn}(...)")
        return Applied(node.fn, args, node, node.ndim)

    def kronecker(self, node: Expr, rows: int, column: bool = False) -> M:
        """A tensor of 3 or 4 axes, ``rows`` of them row axes, flattened into a matrix: a sum
        of products X[r1,c1] Y[r2,c2] is X ⊗ Y (a missing axis makes Y a column or a row
        vector). Row-major vec runs the last axis fastest; column-major vec (``column``) the
        first, which is row-major vec of the tensor with each group's axes reversed."""
        node = bare(node)
        cols = node.ndim - rows
        if node.ndim not in (3, 4) or not (1 <= rows <= 2 and 1 <= cols <= 2):
            raise _Unsupported(f"a tensor of {node.ndim} axes (shape {node.shape})")
        if isinstance(node, Add):
            if not node.terms:
                return Zeros((math.prod(node.shape[:rows]), math.prod(node.shape[rows:])))
            parts = [self.kronecker(t, rows, column) for t in node.terms]
            return Sum(tuple(zip(node.coeffs, parts, strict=True)), 2, loose=True)
        if not isinstance(node, Contract):
            raise _Unsupported(f"a tensor of {node.ndim} axes (shape {node.shape}) that is not a product")
        if column:  # J[r1,r2,c1,c2] read column-major is P[r2,r1,c2,c1] read row-major
            output = node.output[:rows][::-1] + node.output[rows:][::-1]
            node = Contract(node.operands, node.inputs, output, node.sizes)
        return self._kron(node, rows, column)

    def _kron(self, node: Contract, rows: int, column: bool) -> M:
        """The row-major Kronecker form of ``node`` (already reordered for a column-major vec)."""
        cols = node.ndim - rows
        scaled_rows = self._row_scale(node, rows, column)
        if scaled_rows is not None:
            return scaled_rows
        # kron(X, Y)[(r1, r2), (c1, c2)] = X[r1,c1] Y[r2,c2]; with one axis fewer, X or Y is a vector.
        splits = {(2, 2): [((0, 2), (1, 3))], (2, 1): [((0, 2), (1,)), ((0,), (1, 2))],
                  (1, 2): [((0, 1), (2,)), ((1,), (0, 2))]}[rows, cols]
        for first, second in splits:
            parts = self._split_network(node, first, second)
            if parts is not None:
                break
        else:
            raise _Unsupported(f"a tensor of {node.ndim} axes (shape {node.shape}) that is no Kronecker product")
        factors = []
        for positions, ops in zip((first, second), parts, strict=True):
            m = self._part(ops, tuple(node.output[p] for p in positions), dict(enumerate(node.sizes)))
            if m.ndim == 1:  # a vector: a column on a row axis, a row on a column axis
                m = AsMatrix(m, row=positions[0] >= rows)
            factors.append(m)
        return Kron(*factors)

    def _row_scale(self, node: Contract, rows: int, column: bool) -> M | None:
        """diag(vec(G)) (the rest): a factor on exactly the row indices scales each row (the
        Jacobian of an elementwise function of A W is diag(vec(1 − tanh(A W)∘²)) (A ⊗ I)).
        ``node``'s row indices are reversed for a column-major vec, so G keeps its own
        orientation there and vec stacks its columns."""
        row_indices = node.output[:rows]
        if len(set(row_indices)) < rows:
            return None
        own = row_indices[::-1] if column else row_indices  # the function's axes in its own order
        for k, idx in enumerate(node.inputs):
            if set(idx) != set(row_indices) or len(idx) != rows:
                continue
            g = self.convert(node.operands[k])
            if rows == 2 and idx != own:
                g = transpose(g)
            rest = Contract(node.operands[:k] + node.operands[k + 1:], node.inputs[:k] + node.inputs[k + 1:],
                            node.output, node.sizes)
            try:
                inner = self._kron(rest, rows, column)
            except _Unsupported:
                return None
            return Matmul(Diag(g if rows == 1 else Vec(g, column)), inner, 2)
        return None

    @staticmethod
    def _split_network(node: Contract, first, second):
        """The operands on X's output positions and those on Y's, when no index joins the two."""
        mine = {node.output[p] for p in first}
        ops = list(zip(node.operands, node.inputs, strict=True))
        grown = True
        while grown:  # X's operands: those sharing an index with X's part, and their indices
            grown = False
            for _, idx in ops:
                if set(idx) & mine and not set(idx) <= mine:
                    mine |= set(idx)
                    grown = True
        part_x = [(op, idx) for op, idx in ops if set(idx) & mine or not idx]
        part_y = [(op, idx) for op, idx in ops if not (set(idx) & mine or not idx)]
        if any(node.output[p] in mine for p in second):
            return None
        return part_x, part_y

    def _part(self, ops, output: tuple[int, ...], sizes) -> M:
        used = sorted({i for _, idx in ops for i in idx} | set(output))
        renumber = {i: k for k, i in enumerate(used)}
        sub = Contract(tuple(op for op, _ in ops), tuple(tuple(renumber[i] for i in idx) for _, idx in ops),
                       tuple(renumber[i] for i in output), tuple(sizes[i] for i in used))
        return self._contract(sub)

    def _contract(self, node: Contract) -> M:
        scalars: list[M] = []
        slots: list[tuple[M, list[int]]] = []
        for op, idx in zip(node.operands, node.inputs, strict=True):
            inner = bare(op)
            if isinstance(inner, Add) and scaled(inner):  # 2 Aᵀ (A x − y), not Aᵀ (2 A x − 2 y)
                common = abs(inner.coeffs[0])
                scalars.append(Number(common))
                op = Add(inner.terms, tuple(c / common for c in inner.coeffs), inner.shape)
            m = self.convert(op)
            if not idx:
                scalars.append(m)
            elif len(idx) == 2 and idx[0] == idx[1]:
                slots.append((Diag(m), [idx[0]]))
            else:
                slots.append((m, list(idx)))
        out = list(dict.fromkeys(node.output))
        size = dict(enumerate(node.sizes))
        for i in range(len(node.sizes)):  # a summed index on no factor: a factor of its size
            if i not in out and not any(i in idx for _, idx in slots):
                scalars.append(Number(float(size[i])))
        slots = self._split(slots, out, size)
        core = self._chains(slots, out, scalars)
        if len(node.output) == 2 and node.output[0] == node.output[1]:  # a delta: the core on a diagonal
            n = size[out[0]]
            if isinstance(core, Ones):
                return Identity(n)
            if isinstance(core, Scale) and isinstance(core.factors[-1], Ones):  # c 𝟙 on a diagonal: c I
                return Scale(core.factors[:-1] + (Identity(n),))
            return Diag(core)
        if len(node.output) == 2 and node.output != (out[0], out[1]):
            raise _Unsupported("a repeated output index")
        return core

    def _split(self, slots, out, size):
        """Every index on exactly two slots (counting the output as one): an index on three
        or more is split by a vector on it becoming diag(v); an index on one gets 𝟙."""
        slots = [(m, list(idx)) for m, idx in slots]

        def count(i):
            return sum(idx.count(i) for _, idx in slots) + out.count(i)

        for i in sorted({i for _, idx in slots for i in idx} | set(out)):
            while count(i) > 2:
                vector = next((k for k, (_, idx) in enumerate(slots) if idx == [i]), None)
                # the vector's partner: a matrix where there is one, so the vectors stay vectors
                # (each is needed to split i once more) and become diagonals in a chain
                partners = [k for k, (_, idx) in enumerate(slots) if i in idx and k != vector]
                other = min(partners, key=lambda k: len(slots[k][1]) != 2, default=None)
                if vector is None or other is None:
                    raise _Unsupported(f"an index shared by {count(i)} factors, none of them a vector")
                j = max(size) + 1
                size[j] = size[i]
                m, _ = slots[vector]
                slots[vector] = (Diag(m, hadamard=True), [i, j])
                om, oidx = slots[other]
                slots[other] = (om, [j if x == i else x for x in oidx])
            if count(i) == 1:
                slots.append((Ones(size[i]), [i]))
        return slots

    def _chains(self, slots, out, scalars) -> M:
        used: set[int] = set()

        def follow(i):
            """The (slot, oriented factor) pairs from index i to a vector (end None) or back to an output index."""
            chain = []
            while True:
                k = next((k for k, (_, idx) in enumerate(slots) if i in idx and k not in used), None)
                if k is None:
                    return chain, i
                used.add(k)
                m, idx = slots[k]
                if len(idx) == 1:
                    return chain + [(k, m)], None
                chain.append((k, m if idx[0] == i else transpose(m)))
                i = idx[1] if idx[0] == i else idx[0]

        def factors(chain):
            return [m for _, m in chain]

        result = None
        if len(out) == 1:
            chain, end = follow(out[0])
            result = _product(factors(chain), 1)
        elif len(out) == 2:
            chain, end = follow(out[0])
            if end == out[1]:
                result = _product(factors(chain), 2)
            else:
                first = _product(factors(chain), 1)
                second, _ = follow(out[1])
                result = Outer(first, _product(factors(second), 1))
        # What is left closes into scalars: paths between two vectors first (from a ones
        # vector where there is one: 𝟙ᵀ v is sum(v)), then loops.
        for k, (m, idx) in sorted(enumerate(slots), key=lambda ks: (len(ks[1][1]), not isinstance(ks[1][0], Ones))):
            if k in used:
                continue
            used.add(k)
            if len(idx) == 1:  # xᵀ A y, or yᵀ Aᵀ x where that writes fewer ᵀ
                rest, _ = follow(idx[0])
                if isinstance(m, Ones) and len(rest) == 1:
                    scalars.append(Total(rest[0][1]))
                    continue
                path = [(k, transpose(m))] + rest
                backward = [(j, transpose(f)) for j, f in reversed(path)]
                scalars.append(_product(factors(backward if _transposes(backward) < _transposes(path) else path), 0))
            else:  # tr(A B C), turned to the fewest ᵀ
                rest, _ = follow(idx[1])
                scalars.append(Trace(_product(factors(_fewest_transposes([(k, m)] + rest)), 2)))
        if result is None:
            if not scalars:
                return Number(1.0)
            return _times(scalars[:-1], scalars[-1])
        return _times(scalars, result)


def _fewest_transposes(loop):
    """The turn of a trace's loop of (slot, factor) pairs, read either way round (tr(Mᵀ) =
    tr(M)), that writes the fewest ᵀ; of those, the one with its ᵀ first, as texts write
    tr(Xᵀ A X B) and tr(Aᵀ B); then the one taking the IR's operands most in order.
    tr(X Xᵀ Aᵀ) reads tr(Xᵀ A X)."""
    backward = [(k, transpose(m)) for k, m in reversed(loop)]
    turns = [way[s:] + way[:s] for way in (loop, backward) for s in range(len(loop))]
    return min(turns, key=lambda turn: (_transposes(turn), [not isinstance(m, Transpose) for _, m in turn],
                                        [k for k, _ in turn]))


def to_matrix_notation(expr: Expr, name: str = "f", rows: int | None = None, *, order: str = "row",
                       format: str = "text", display: str | None = None) -> str:  # noqa: A002 - as jacobian_matrix's
    r"""``expr`` in matrix notation, vectors as columns: ``f = 2 Aᵀ (A x − y)``; ``ᵀ``
    transposes, ``⊙`` and ``∘`` are elementwise, ``𝟙`` is the ones vector, ``‖r‖`` the
    Euclidean and ``‖X‖_F`` the Frobenius norm. A Jacobian of 3 or 4 axes, ``rows`` of them
    its function's, is written as the matrix of its flattening in Kronecker products: with
    ``order="row"`` (or ``"C"``) vec stacks rows, ``∂vec(A W)/∂vec(W) = A ⊗ I``; with
    ``order="column"`` (or ``"F"``) vec stacks columns, as the Matrix Cookbook does, and the
    same Jacobian is ``I ⊗ A``. ``format`` "latex" writes LaTeX (vectors and matrices in
    bold), "mathml" a MathML ``<math>`` element as :func:`to_mathml` does (``display``
    "block", the default, or "inline"). Raises :class:`OptionError` for what matrices cannot
    say (use :func:`to_index_notation`).

    >>> import einsdiff as ed
    >>> A, x, y = ed.var("A", (4, 3)), ed.var("x", (3,)), ed.var("y", (4,))
    >>> print(ed.to_matrix_notation(ed.grad(ed.sum((A @ x - y) ** 2), x)))
    f = 2 Aᵀ (A x − y)
    >>> print(ed.to_matrix_notation(ed.grad(ed.norm(x), x), name="g"))
    g = x / ‖x‖
    >>> print(ed.to_matrix_notation(ed.grad(ed.norm(x), x), name="g", format="latex"))
    \mathbf{g} = \frac{\mathbf{x}}{\|\mathbf{x}\|}
    >>> print(ed.to_matrix_notation(ed.hessian(x @ ed.var("B", (3, 3)) @ x, x), name="H"))
    H = Bᵀ + B
    >>> print(ed.to_matrix_notation(x @ x, format="mathml", display="inline"))  # doctest: +NORMALIZE_WHITESPACE
    <math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><mrow><mi>f</mi><mo>=</mo><mrow><msup><mi>𝐱</mi><mi>⊤</mi></msup><mi>𝐱</mi></mrow></mrow></mrow></math>
    >>> W = ed.var("W", (3, 2))
    >>> print(ed.to_matrix_notation(ed.jacobian(A @ W, W), name="J", rows=2))
    J = A ⊗ I
    >>> print(ed.to_matrix_notation(ed.jacobian(A @ W, W), name="J", rows=2, order="F"))
    J = I ⊗ A
    """
    if not isinstance(expr, Expr):
        raise OptionError(f"to_matrix_notation needs an einsdiff expression, got {type(expr).__name__}")
    style = _style(format, display)
    body = style.equation(style.render(Name(name, expr.ndim)), style.render(matrix_form(expr, rows, order=order).tree))
    return mathml_element(body, display or "block") if format == "mathml" else body


def matrix_form(expr: Expr, rows: int | None = None, *, order: str = "row") -> MatrixForm:
    """The matrix form: its tree, its text, and its value with numpy. With ``rows`` (for a Jacobian of 3 or 4
    axes: how many lead axes are its function's), the matrix ∂vec(f)/∂vec(X) of its
    flattening in ``order`` ("row" or "C": vec stacks rows; "column" or "F": columns), as
    Kronecker products: ∂vec(A W + B)/∂vec(W) = A ⊗ I row-major, I ⊗ A column-major."""
    column = vec_order(order) == "column"
    try:
        converter = _Converter()
        if rows is not None and expr.ndim > 2:
            return MatrixForm(_readable(converter.kronecker(expr, rows, column=column)))
        return MatrixForm(_readable(converter.convert(expr)))
    except _Unsupported as why:
        raise OptionError(f"no matrix notation for this expression: it has {why}; "
                          f"use ed.to_index_notation") from None


def vec_order(order: str) -> str:
    """How vec flattens a matrix, "row" or "column", from any of its names ("C" is "row",
    "F" is "column", as numpy names them).

    >>> vec_order("F")
    'column'
    """
    if order not in _VEC_ORDERS:
        raise OptionError(f"order={order!r}: use 'row' or 'C' (vec stacks rows) or 'column' or 'F' "
                          f"(vec stacks columns, as the Matrix Cookbook does)")
    return _VEC_ORDERS[order]


def _style(format: str, display: str | None) -> _Text:  # noqa: A002
    if format not in _STYLES:
        raise OptionError(f"format={format!r}: give 'text', 'latex' or 'mathml'")
    if display is not None and format != "mathml":
        raise OptionError(f"display={display!r} places a MathML element; it needs format='mathml', not {format!r}")
    return _STYLES[format]


def derivative_notation(f: Expr, wrt: Var, derivative: Expr, order: int, name: str = "f", *,
                        vec: str = "row", format: str = "text", display: str | None = None) -> str:  # noqa: A002
    r"""``∂L/∂x = 2 Aᵀ (A x − y)``, or for tensors of more axes ``∂vec(Z)/∂vec(W) = A ⊗ I``
    (``vec`` "row" or "C": vec stacks rows; "column" or "F": ``I ⊗ A``), in ``format``
    "text", "latex" or "mathml" (as :func:`to_matrix_notation`); raises :class:`OptionError`
    where matrices cannot say it.

    >>> import einsdiff as ed
    >>> A, W = ed.var("A", (4, 3)), ed.var("W", (3, 2))
    >>> print(derivative_notation(A @ W, W, ed.jacobian(A @ W, W), 1, "Z", vec="F", format="latex"))
    \frac{\partial \operatorname{vec}\left(\mathbf{Z}\right)}{\partial \operatorname{vec}\left(\mathbf{W}\right)} = \mathbf{I} \otimes \mathbf{A}
    """
    style = _style(format, display)
    num, den = Name(name, f.ndim), Name(wrt.name, wrt.ndim)
    if derivative.ndim <= 2:
        form = matrix_form(derivative)
    else:
        form = matrix_form(derivative, f.ndim + (wrt.ndim if order == 2 else 0), order=vec)
        num, den = (Vec(num, False) if f.ndim > 1 else num), (Vec(den, False) if wrt.ndim > 1 else den)
    body = style.equation(style.partial(style.render(num), style.render(den), order), style.render(form.tree))
    return mathml_element(body, display or "block") if format == "mathml" else body
