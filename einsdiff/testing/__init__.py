"""Property-testing helpers: oracles (:mod:`.oracles`, no hypothesis needed), hypothesis
strategies (:mod:`.strategies`) and the IR dump failing tests show (:mod:`.dump`).

>>> import numpy as np, einsdiff as ed
>>> x = ed.var("x", (3,))
>>> check_jacobian(ed.tanh(x) * x, x, {"x": np.array([0.1, -0.2, 0.3])})
"""

from .dump import describe
from .oracles import (
    brute_force_jacobian,
    brute_force_value,
    check_jacobian,
    finite_difference_jacobian,
    finite_difference_margin,
    kink_distance,
)
from .strategies import (
    FUNCTION_KINDS,
    EinsumCase,
    Reference,
    bindings_for,
    einsum_cases,
    expressions,
    expressions_with_reference,
    nested_tanh_formula,
)

__all__ = [
    "EinsumCase",
    "FUNCTION_KINDS",
    "Reference",
    "bindings_for",
    "brute_force_jacobian",
    "brute_force_value",
    "check_jacobian",
    "describe",
    "einsum_cases",
    "expressions",
    "expressions_with_reference",
    "finite_difference_jacobian",
    "finite_difference_margin",
    "kink_distance",
    "nested_tanh_formula",
]
