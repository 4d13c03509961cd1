"""The records a function's registry entry is made of: :class:`Function`, its
:class:`Notation` and its :class:`Syntax`.

They sit beneath every module that defines entries (the elementwise ones in
:mod:`einsdiff.ir.ops`, the others in :mod:`einsdiff.ir.functions`), which is where
:data:`einsdiff.ir.functions.FUNCTIONS` collects them into one table.

>>> Notation("tanh", text="tanh({0})").text.format("x[i]")
'tanh(x[i])'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

KINDS = ("elementwise", "call", "composite")
FORMS = ("elementwise", "piecewise", "whole", "along")


@dataclass(frozen=True, slots=True)
class Notation:
    """Every printer's per-function text, as templates: ``{0}``, ``{1}``, ... stand for the
    arguments as the printer has already written (and, where needed, bracketed) them, ``{p}``
    for the parameter (a number, written as the printer writes numbers; in ``matrix`` as
    superscript digits), ``{r}`` for the indices the function binds on its argument (those
    logsumexp sums, those reshape reads), written as that printer writes a list of indices.
    Templates are ``str.format`` strings: a literal brace is doubled (``"{0}^{{-1}}"``). An
    empty template means the printer has no form of its own for the function (a composite
    prints as the nodes it is built from; the matrix form raises as for any unsupported node).

    - ``name``: the name in index notation, the one ``ed.parse`` reads back.
    - ``text``: index notation (``inv({0})``); a tensor-valued result then takes its indices
      as a tensor does (``inv(X)[i,j]``), see ``indexed``.
    - ``latex``: LaTeX, complete with its brackets (``\\tanh\\left({0}\\right)``, ``{0}^{{-1}}``);
      ``latex_name`` the bare command an elementwise function is written with (``\\tanh``).
    - ``mathml``: MathML Core elements, every bracket and comma an ``<mo>`` (``<mo>&#x2061;</mo>``
      is function application), so a printer puts it in as it is. The arguments are the
      printer's fragments, each in an ``<mrow>`` for an ``indexed`` function; ``{r}`` is an
      ``<mrow>`` of ``<mi>`` indices and ``{p}`` an ``<mn>``.
    - ``matrix``: matrix notation (``{0}⁻¹``, ``det({0})``); ``matrix_scalar`` when a scalar
      argument reads differently (``{0}²`` rather than ``{0}∘²``). A placeholder's format spec
      says how the argument is bracketed: ``{0:name}`` unless it is a bare name (``(A B)⁻¹``),
      ``{0:atom}`` unless it binds as an atom (``tanh(x)∘²``, ``(a + b)∘²``), ``{0:factor}`` when
      it is a sum (``A⁻¹ (b + c)``), a plain ``{0}`` as it is (inside the template's own
      brackets); the renderer passes arguments whose ``__format__`` reads the spec.
      ``matrix_binds`` and ``matrix_scalar_binds`` say how tightly the result binds: "atom" (a
      name, ``f(...)``, a postfix) or "product" (juxtaposed factors ``A⁻¹ B``, ``1/x``).
    - ``indexed``: the result is written indexed like a tensor (``inv(X)[i,j]``, ``det(X)``
      with no indices) rather than by the printer's elementwise rule (``tanh(x[i])``): the
      printer brackets the template and puts the indices after it (below, in LaTeX and MathML).
    - ``param``: for a function whose parameter a bracket shows (take's key, ``take[1:](x)``),
      the parameter of its Call node as text; printers put it where ``{p}`` stands.
    - ``rule``, ``rule_text``, ``rule_latex``: explain's step through the function: its name
      and its rule in text and LaTeX (an elementwise function's rule is the generic chain rule).
    """

    name: str
    text: str = ""
    latex: str = ""
    latex_name: str = ""
    mathml: str = ""
    matrix: str = ""
    matrix_scalar: str = ""
    matrix_binds: str = "atom"
    matrix_scalar_binds: str = "atom"
    indexed: bool = False
    rule: str = ""
    rule_text: str = ""
    rule_latex: str = ""
    param: Callable | None = None

    def __post_init__(self):
        if {self.matrix_binds, self.matrix_scalar_binds} - {"atom", "product"}:
            raise ValueError(f"Notation {self.name!r}: matrix_binds and matrix_scalar_binds are 'atom' or 'product'")


@dataclass(frozen=True, slots=True)
class Syntax:
    """How a formula calls the function (what ``ed.parse`` reads).

    - ``names``: the names a formula may write, the first the canonical one (``trace``, ``tr``).
    - ``form``: how arguments are written. "elementwise": one argument carrying indices,
      ``tanh(x[i])``; "piecewise": several, aligned by index name, ``where(m[i], a[i], b[i])``;
      "whole": whole tensors, or formulas whose axes a bracket binds, ``inv(X)[i,j]``,
      ``inv[k,l](A[k,m] B[m,l])[i,j]``; "along": one argument and the axes the function works
      along, ``softmax[j](x[i,j])``.
    - ``arity``: how many arguments; ``operands`` says what they are, for an error on a wrong count.
    - ``builder``: the arguments as Exprs (for "whole", the bracket's parameter after them) to the
      Expr; for "elementwise" the one argument.
    - ``along``: ``(x, axes) -> Expr`` when the function also takes axes (logsumexp is both
      "whole" and along axes); ``reduces``: those axes disappear from the result (logsumexp,
      norms) rather than staying (softmax).
    - ``indexed``: the result has axes a formula must index (``inv(X)[i,j]``; ``det(X)`` a scalar).
    - ``param``: what the bracket holds besides axes ("shape": ``reshape[k,l -> (6,)]``).
    - ``example``: a call that reads, for hints; ``{name}`` is the name the formula used.
    - ``spellings``: (what a learner may write, the name to suggest) pairs for "did you mean"
      (not accepted: ``ln`` for log, ``max`` for maximum, ``Tr`` for tr).
    - ``offered``: False for a node only derivatives make (Φ, divided-difference matrices): a
      formula reads it back, but an error listing the functions does not offer it to a learner.
    """

    names: tuple[str, ...]
    form: str
    arity: int = 1
    builder: Callable | None = None
    along: Callable | None = None
    reduces: bool = False
    indexed: bool = False
    param: str = ""
    example: str = ""
    operands: str = ""
    spellings: tuple[tuple[str, str], ...] = ()
    offered: bool = True

    def __post_init__(self):
        if not self.names or self.form not in FORMS:
            raise ValueError(f"Syntax {self.names!r}: give at least one name and a form among {FORMS}")


@dataclass(frozen=True, slots=True)
class Function:
    """One function: everything about it in one entry of :data:`~einsdiff.ir.functions.FUNCTIONS`.

    ``kind`` says which fields it needs:

    - "elementwise" (a :class:`~einsdiff.ir.expr.Map` node): ``array(xp, x, param)``, the value
      against an array namespace ``xp`` under numpy's names (``numpy(x, param)`` is it for numpy);
      ``derivative(u, ans, param)``, f' as an expression of the argument ``u`` and the result
      ``ans`` (None when it is zero); ``source``, NumPy source with ``{x}`` the argument and
      ``{p}`` the parameter.
    - "call" (a :class:`~einsdiff.ir.expr.Call` node of its own): ``numpy(node, args)``, the
      checked numpy value (a singular matrix is an :class:`~einsdiff.EvaluationError`);
      ``array(xp, node, args)``, the unchecked value on other backends; ``jvp(node, tangents,
      extra)``, the forward rule: the node's Jacobian from its arguments' Jacobians (``None``
      for an argument that does not depend on the variable; each carries the variable's axes
      ``extra`` at the end), linear in them; ``vjp(node, adj, lead)``, each argument's share of
      an adjoint that carries ``lead`` axes in front — leave it None and the calculus derives
      it by transposing ``jvp`` (write one only where that is faster, as solve's, which solves
      with Aᵀ instead of forming an inverse, or where ``jvp`` itself needs it, as where's);
      ``source``, NumPy source with ``{0}``, ``{1}``, ... the arguments and ``{p}`` the
      parameter; ``constant_in``, the arguments it is not differentiated in (where's mask);
      ``node(*args)``, the node's smart constructor when it rewrites (inv_node writes (Aᵀ)⁻¹ as
      (A⁻¹)ᵀ), used where a rule built over placeholders is bound to real arguments.
    - "composite" (built from other nodes, no node of its own: trace is an einsum): ``builder``.

    Every kind has ``builder`` (the public constructor, ``ed.inv``), ``notation`` and ``syntax``
    (None: formulas cannot call it); ``helper`` is a function ``source`` calls, emitted once
    into generated code. A new function is one entry (in :mod:`einsdiff.ir.functions`, or in
    :mod:`einsdiff.ir.ops` for an elementwise one) plus its tests; parsing, printing, explaining,
    evaluation, generated code and both derivative modes read it from the table.
    """

    name: str
    kind: str
    notation: Notation
    syntax: Syntax | None = None
    builder: Callable | None = None
    array: Callable | None = None
    numpy: Callable | None = None
    derivative: Callable | None = None
    jvp: Callable | None = None
    vjp: Callable | None = None
    source: str = ""
    helper: str = ""
    constant_in: tuple[int, ...] = ()
    node: Callable | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Function {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        needs = {"elementwise": ("array", "derivative", "source"), "call": ("numpy", "array", "jvp", "source"),
                 "composite": ("builder",)}[self.kind]
        missing = [field for field in needs if not getattr(self, field)]
        if missing:
            raise ValueError(f"Function {self.name!r} ({self.kind}) needs {', '.join(missing)}")
