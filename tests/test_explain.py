"""ed.explain and ed.to_latex: the seeds' derivations, line by line, and numbers that match."""

import re

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.notation import tree as t
from einsdiff.notation.explain import Explanation, Matrix, explain_steps

A_001 = np.array([[1.0, 2, 3], [4, 5, 6]])
SHAPES_001 = dict(A=(2, 3), W=(3, 2), B=(2,))


def matrix_after(text: str, after: str) -> np.ndarray:
    """The bracketed rows printed right after the line that contains ``after``."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if after in line) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip().startswith("["):
            break
        rows.append([float(v) for v in line.strip()[1:-1].split()])
    return np.array(rows)


def test_seed_001_jacobian_of_aw_plus_b_is_the_4_by_6matrix_after():
    Z = ed.parse("Z[i,j] = A[i,k]*W[k,j] + B[j]", **SHAPES_001)
    text = ed.explain(Z, ed.var("W", (3, 2)), values={"A": A_001}, name="Z")
    assert "so ∂Z/∂W has shape (2×2)×(3×2), a 4×6 matrix" in text
    assert "sum rule: ∂Z[i,j]/∂W[a,b] = ∂(A[i,k] W[k,j])/∂W[a,b] + ∂B[j]/∂W[a,b]" in text
    assert "delta: δ[k,a]   (renames the summed k to a: the sum over k collapses)" in text
    assert "delta: δ[j,b]   (j is free" in text
    assert "constant: ∂B[j]/∂W[a,b] = 0" in text
    assert "result: ∂Z[i,j]/∂W[a,b] = δ[j,b] A[i,a]" in text
    want = [[1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3], [4, 0, 5, 0, 6, 0], [0, 4, 0, 5, 0, 6]]
    np.testing.assert_array_equal(matrix_after(text, "Jacobian matrix (row-major vec)"), want)


def matrix_step(steps, rule: str) -> np.ndarray:
    """The numbers printed under the step whose rule starts with ``rule``."""
    k = next(k for k, step in enumerate(steps) if not isinstance(step, Matrix) and step.rule.startswith(rule))
    return np.array(steps[k + 1].rows)


def test_seed_001_chain_rule_through_z_gives_5_5_7_7_9_9():
    S = ed.parse("S = sum[i,j](A[i,k]*W[k,j] + B[j])", **SHAPES_001)
    text = ed.explain(S, ed.var("W", (3, 2)), values={"A": A_001}, name="S")
    assert "let: U1[i,j] = A[i,k] W[k,j] + B[j]" in text
    assert "chain rule through U1: ∂S/∂W[a,b] = Σ[i,j](∂S/∂U1[i,j] ∂U1[i,j]/∂W[a,b])" in text
    assert "with ∂S/∂U1[i,j] = 1" in text
    np.testing.assert_array_equal(matrix_after(text, "chain rule in numbers"), [[1, 1, 1, 1]])
    np.testing.assert_array_equal(matrix_after(text, "times:")[0], [1, 0, 2, 0, 3, 0])
    np.testing.assert_array_equal(matrix_after(text, "gradient as a row"), [[5, 5, 7, 7, 9, 9]])
    np.testing.assert_array_equal(matrix_after(text, "reshaped to the shape of W"), [[5, 5], [7, 7], [9, 9]])


def test_column_major_order_flattens_columns_first():
    Z = ed.parse("Z[i,j] = A[i,k]*W[k,j] + B[j]", **SHAPES_001)
    text = ed.explain(Z, ed.var("W", (3, 2)), values={"A": A_001}, order="column")
    J = ed.evaluate(ed.jacobian(Z, ed.var("W", (3, 2))), A=A_001, W=np.ones((3, 2)), B=np.ones(2))
    want = J.transpose(1, 0, 3, 2).reshape(4, 6)  # vec stacks columns: reverse the axes, then C order
    np.testing.assert_array_equal(matrix_after(text, "Jacobian matrix (column-major vec)"), want)


def test_each_order_states_the_kronecker_form_of_the_matrix_it_prints():
    """Row-major vec: A ⊗ I; column-major vec (the Cookbook's): I ⊗ A. Each line names the
    matrix printed under it."""
    Z = ed.parse("Z[i,j] = A[i,k]*W[k,j] + B[j]", **SHAPES_001)
    for order, form, kron in (("row", "A ⊗ I", np.kron(A_001, np.eye(2))), ("column", "I ⊗ A", np.kron(np.eye(2), A_001))):
        text = ed.explain(Z, ed.var("W", (3, 2)), values={"A": A_001}, order=order, name="Z")
        assert f"in matrix notation: ∂vec(Z)/∂vec(W) = {form}   (vec stacks {order}s)" in text
        np.testing.assert_array_equal(matrix_after(text, f"Jacobian matrix ({order}-major vec)"), kron)


def test_the_letters_typed_stay_and_the_derivative_takes_letters_not_typed():
    f = ed.parse("X[k,i]*A[k,l]*X[l,i]", X=(3, 2), A=(3, 3))
    text = ed.explain(f, ed.var("X", (3, 2)), letters={"X": "ki", "A": "kl"})
    assert "formula: f = X[k,i] X[l,i] A[k,l]" in text
    assert "derivative of a variable: ∂X[l,i]/∂X[a,b] = δ[l,a] δ[i,b]" in text
    assert "result: ∂f/∂X[a,b] = A[a,k] X[k,b] + A[k,a] X[k,b]" in text
    Z = ed.parse("Z[i,j] = A[i,k]*W[k,j] + B[j]", **SHAPES_001)  # the quick start
    text = ed.explain(Z, ed.var("W", (3, 2)), name="Z", indices="ij", letters={"A": "ik", "W": "kj", "B": "j"})
    assert "formula: Z[i,j] = A[i,k] W[k,j] + B[j]" in text
    assert "product rule: ∂(A[i,k] W[k,j])/∂W[a,b] = A[i,k] ∂W[k,j]/∂W[a,b]" in text
    assert "result: ∂Z[i,j]/∂W[a,b] = δ[j,b] A[i,a]" in text
    with pytest.raises(ed.OperandError, match="letters"):
        ed.explain(Z, ed.var("W", (3, 2)), letters={"A": 3})


def test_derivation_keeps_the_formulas_letters_and_renames_clashing_derivative_indices():
    from einsdiff.frontends.cli import written_letters
    from einsdiff.frontends.session import derivation, index_names

    formula = "Z[i,j] = A[i,k]*W[k,j] + B[j]"
    Z, W = ed.parse(formula, **SHAPES_001), ed.var("W", (3, 2))
    free, dnames = index_names(Z, W, "ij", "kj", 1)  # the text format's names: W[k,a]
    text = derivation(Z, W, "Z", free, dnames, 1, letters=written_letters(formula, False))
    assert "formula: Z[i,j] = A[i,k] W[k,j] + B[j]" in text and "W[k,a]" not in text
    assert "result: ∂Z[i,j]/∂W[a,b] = δ[j,b] A[i,a]" in text
    L = ed.parse("L = sum[i]((A[i,j]*x[j] - y[i])^2)", A=(2, 3), x=(3,), y=(2,))
    x = ed.var("x", (3,))
    free, dnames = index_names(L, x, (), "j", 2)
    text = derivation(L, x, "L", free, dnames, 2, letters={"A": "ij", "x": "j", "y": "i"})
    assert "formula: g_L[j] = 2 Σ[i](A[i,j] (A[i,k] x[k] - y[i]))" in text  # the gradient's axis follows x's letter
    assert text.splitlines()[-2] == "result: ∂g_L[j]/∂x[a] = 2 A[i,j] A[i,a]"


def test_seed_000_neuron_gradient_is_x_where_active():
    f = ed.parse("relu(w[i]*x[i] + b)", w=(3,), x=(3,), b=())
    text = ed.explain(f, ed.var("w", (3,)))
    assert "let: U1 = x[i] w[i] + b   (a scalar intermediate)" in text
    assert "chain rule for the elementwise relu: ∂f/∂w[a] = step(U1) ∂U1/∂w[a]   (relu'(u) = step(u))" in text
    assert "delta: δ[i,a]   (renames the summed i to a" in text
    assert text.splitlines()[-2:] == ["result: ∂f/∂w[a] = x[a] step(x[i] w[i] + b)",
                                      "in matrix notation: ∂f/∂w = step(xᵀ w + b) x   (numerator layout: vectors are columns)"]


def test_seed_003_derivative_of_ax_by_a():
    f = ed.parse("f[i] = A[i,j]*x[j]", A=(2, 3), x=(3,))
    text = ed.explain(f, ed.var("A", (2, 3)), values={"x": [1.0, 2.0, 3.0]})
    assert "result: ∂f[i]/∂A[a,b] = δ[i,a] x[b]" in text
    np.testing.assert_array_equal(matrix_after(text, "Jacobian matrix"), [[1, 2, 3, 0, 0, 0], [0, 0, 0, 1, 2, 3]])


def test_a_factor_used_twice_is_one_intermediate_with_a_doubled_outer_derivative():
    L = ed.parse("L = (A[i,j]*x[j] - y[i])*(A[i,k]*x[k] - y[i])", A=(2, 3), x=(3,), y=(2,))
    text = ed.explain(L, ed.var("A", (2, 3)), name="L")
    assert text.count("let: ") == 1
    assert "with ∂L/∂U1[i] = 2 U1[i]" in text
    assert text.splitlines()[-2:] == ["result: ∂L/∂A[a,b] = 2 (A[a,i] x[i] - y[a]) x[b]",
                                      "in matrix notation: ∂L/∂A = 2 (A x − y) xᵀ   (numerator layout: vectors are columns)"]


def test_every_so_line_matches_the_jacobian_it_names():
    """Each level's result is a real Jacobian: the last line equals ed.jacobian printed."""
    W, x, b = ed.var("W", (3, 4)), ed.var("x", (4,)), ed.var("b", (3,))
    f = ed.tanh(W @ x + b) * ed.sigmoid(W @ x)
    text = ed.explain(f, W)
    want = ed.to_index_notation(ed.jacobian(f, W), indices=("i", "a", "c")).split(" = ", 1)[1]
    assert text.splitlines()[-2] == f"result: ∂f[i]/∂W[a,c] = {want.split(';')[0]}"  # b names a variable
    assert text.splitlines()[-1].startswith("in matrix notation: ∂f/∂vec(W) = diag(sigmoid(W x)) (")


def test_latex_explain_is_math_with_text_notes():
    S = ed.parse("S = sum[i,j](A[i,k]*W[k,j] + B[j])", **SHAPES_001)
    text = ed.explain(S, ed.var("W", (3, 2)), values={"A": A_001}, latex=True, name="S")
    assert r"\frac{\partial S}{\partial W_{ab}}" in text
    assert r"\delta_{ka}" in text and "δ" not in text and "Σ" not in text and "∂" not in text
    assert r"\begin{bmatrix} 5 & 5 \\ 7 & 7 \\ 9 & 9 \end{bmatrix}" in text
    for line in text.splitlines():
        assert line.count("{") == line.count("}"), line
        assert line.count("$") % 2 == 0, line


def test_explain_bad_input():
    x = ed.var("x", (3,))
    with pytest.raises(ed.OptionError, match="order='diagonal'"):
        ed.explain(ed.sum(x), x, order="diagonal")
    with pytest.raises(ed.OperandError, match="explain needs a value for variable 'A'"):
        ed.explain(ed.parse("f[i] = A[i,j]*x[j]", A=(2, 3), x=(3,)), x, values={})
    with pytest.raises(ed.OperandError, match="wrt_indices"):
        ed.explain(ed.sum(x), x, wrt_indices=("i", "i"))
    with pytest.raises(ed.WrtError):
        ed.explain(ed.sum(x), "y")


def test_to_latex_forms():
    A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    assert ed.to_latex(A @ x) == "f_{i} = A_{ij} x_{j}"
    assert ed.to_latex(ed.jacobian(A @ x, A), name="J", indices="iab") == (
        r"J_{iab} = \delta_{ia} x_{b}, \; i \in 1..2, \; a \in 1..2"
    )
    assert ed.to_latex(ed.sum(1 / (x + 1))) == r"f = \sum_{i} \frac{1}{x_{i} + 1}"
    assert ed.to_latex(ed.sqrt(x) ** 3, indices="k") == r"f_{k} = \left(x_{k}\right)^{1.5}"  # (√x)³ is one power
    v0 = ed.var("v_0", (2,))
    assert ed.to_latex(v0) == r"f_{i} = \mathrm{v\_0}_{i}"
    assert (A @ x)._repr_latex_() == "$$f_{i} = A_{ij} x_{j}$$"


def test_to_latex_of_derivatives_is_balanced_and_text_free():
    W, x = ed.var("W", (3, 4)), ed.var("x", (4,))
    loss = ed.sum(ed.log1p(ed.exp(W @ x)) - ed.relu(W @ x) ** 2)
    for e in (loss, ed.grad(loss, W), ed.hessian(loss, x)):
        text = ed.to_latex(e)
        assert text.count("{") == text.count("}")
        assert text.count(r"\left(") == text.count(r"\right)")
        assert not re.search("[δΣ∂]", text)


def test_logdet_is_one_rule_ending_in_the_printed_gradient():
    X = ed.var("X", (3, 3))
    text = ed.explain(ed.logdet(X), X)
    assert "log-determinant rule: ∂f/∂X[a,b] = inv(X)[b,a]   (d log det X = tr(X⁻¹ dX))" in text
    gradient = ed.to_index_notation(ed.grad(ed.logdet(X), X), indices="ab").split(" = ", 1)[1]
    assert text.splitlines()[-2] == f"result: ∂f/∂X[a,b] = {gradient}"


def test_trace_of_an_inverse_times_a_chains_through_the_inverse_rule_and_matches_the_jacobian():
    X, A = ed.var("X", (2, 2)), ed.var("A", (2, 2))
    f = ed.trace(ed.inv(X) @ A)
    values = {"X": [[2.0, 1.0], [0.5, 3.0]], "A": [[1.0, 2.0], [3.0, 4.0]]}
    text = ed.explain(f, X, values=values)
    assert "inverse rule: ∂U1[" in text and "(d(X⁻¹) = -X⁻¹ dX X⁻¹)" in text
    assert "chain rule through U1" in text
    want = ed.to_index_notation(ed.grad(f, X), indices="ab").split(" = ", 1)[1]
    assert f"result: ∂f/∂X[a,b] = {want}" in text
    jac = ed.evaluate(ed.jacobian_matrix(f, X), **{k: np.array(v) for k, v in values.items()})
    np.testing.assert_allclose(matrix_after(text, "gradient as a row"), jac.reshape(1, 4), rtol=1e-5)


def test_a_composite_argument_becomes_an_intermediate_with_the_chain_rule_in_numbers():
    X, A = ed.var("X", (2, 2)), ed.var("A", (2, 2))
    values = {"X": np.array([[1.0, 0.5], [0.2, 2.0]]), "A": np.array([[2.0, 1.0], [0.0, 1.0]])}
    text = ed.explain(ed.logdet(A @ X), X, values=values)
    assert "let: U1[i,j] = A[i,k] X[k,j]" in text
    assert "log-determinant rule: ∂f/∂U1[i,j] = inv(U1)[j,i]" in text
    assert "chain rule through U1: ∂f/∂X[a,b] = Σ[i,j](∂f/∂U1[i,j] ∂U1[i,j]/∂X[a,b])" in text
    inverse_t = np.linalg.inv(values["A"] @ values["X"]).T  # ∂ log det U/∂U = U⁻ᵀ
    np.testing.assert_allclose(matrix_after(text, "chain rule in numbers"), inverse_t.reshape(1, 4), rtol=1e-5)
    np.testing.assert_allclose(matrix_after(text, "reshaped to the shape of X"), values["A"].T @ inverse_t, rtol=1e-5)


def test_where_solve_logsumexp_and_detsign_state_their_rules():
    X, b, z = ed.var("X", (2, 2)), ed.var("b", (2,)), ed.var("z", (2, 3))
    where = ed.explain(ed.where(b > 0, ed.softplus(b), 0.1 * b), b)
    assert "where rule: ∂f[i]/∂b[a] = where(step(b[i]), ∂U1[i]/∂b[a], ∂U2[i]/∂b[a])" in where
    assert "chain rule for the elementwise softplus: ∂U1[i]/∂b[a] = sigmoid(b[i]) ∂b[i]/∂b[a]" in where
    both = ed.explain(ed.solve(X, X @ b), X)  # X in both arguments: one term each
    assert "chain rule through U1: ∂f[i]/∂X[a,c] = (-inv(X)[i,a] solve(X, U1)[c]) + Σ[j](" in both  # b: a variable
    lse = ed.explain(ed.logsumexp(z, 1), z)
    assert "logsumexp rule: ∂f[i]/∂z[a,b] = δ[i,a] exp(z[i,b] - logsumexp[j](z[i,j]))" in lse
    assert "sign of a determinant: ∂f/∂X[a,b] = 0" in ed.explain(ed.slogdet(X)[0], X)


def test_latex_explain_of_functions_is_balanced_and_text_free():
    X, A = ed.var("X", (2, 2)), ed.var("A", (2, 2))
    for f in (ed.logdet(A @ X), ed.trace(ed.inv(X) @ A), ed.where(X > 0, X, 0.1 * X)):
        text = ed.explain(f, X, latex=True)
        assert not re.search("[δΣ∂⁻]", text)
        for line in text.splitlines():
            assert line.count("{") == line.count("}"), line
            assert line.count(r"\left") == line.count(r"\right"), line


def test_an_elementwise_slope_that_is_a_sum_is_bracketed():
    # tanh'(u) ∂u is (1 - square(tanh(u))) ∂u: without brackets it would read 1 - (square(tanh(u)) ∂u).
    W, x = ed.var("W", (3, 3)), ed.var("x", (3,))
    steps = explain_steps(ed.sum(ed.tanh(ed.tanh(W @ x))), W).steps
    step = next(s for s in steps if not isinstance(s, Matrix) and s.rule == "chain rule for the elementwise tanh")
    slope, partial = step.math.sides[1].factors
    assert isinstance(slope, t.Paren) and t.is_sum(slope.body) and isinstance(partial, t.Partial)
    assert slope.body.terms[0] == t.Term(1.0, t.Number(1.0))
    line = str(Explanation((step,)))
    assert ") ∂U" in line and "= (1 - square(tanh(U" in line, line


def nested_tanh(depth: int):
    """sum(tanh(W tanh(W ... tanh(W x)))), ``depth`` layers of one 3×3 W."""
    W, h = ed.var("W", (3, 3)), ed.var("x", (3,))
    for _ in range(depth):
        h = ed.tanh(W @ h)
    return ed.sum(h), W


def test_a_deep_derivation_names_what_it_repeats_and_grows_linearly_with_depth():
    """Written out, the Hessian of nested layers grows exponentially with depth; the derivation
    names each big subexpression it would write again (an intermediate U), so it grows linearly."""
    sizes = {}
    for depth in (5, 10):
        f, W = nested_tanh(depth)
        steps = explain_steps(ed.grad(f, W), W, name="g")
        sizes[depth] = len(str(steps))
        defined = [step.math.sides[0] for step in steps.steps if step.rule == "let"]
        assert len(defined) == len(set(defined))  # each intermediate defined once
        assert any(step.note[-1] == ", used more than once" for step in steps.steps if step.rule == "let")
    assert sizes[10] < 2.5 * sizes[5] and sizes[10] < 60_000, sizes  # was 99,089 and ~1.5 million characters


def test_a_deep_derivation_still_prints_the_right_numbers():
    f, W = nested_tanh(6)
    rng = np.random.default_rng(0)
    values = {"W": rng.uniform(-0.5, 0.5, (3, 3)), "x": rng.uniform(-1, 1, 3)}
    text = ed.explain(ed.grad(f, W), W, values=values, name="g")
    want = ed.evaluate(ed.hessian(f, W), **values).reshape(9, 9)
    np.testing.assert_allclose(matrix_after(text, "Jacobian matrix (row-major vec)"), want, rtol=1e-5, atol=1e-6)


def test_the_chain_rule_in_numbers_evaluates_the_other_intermediates_too():
    # ∂f/∂U1 = U2 = softplus(v1): printing it in numbers needs U2's value, computed from v1.
    v0, v1 = ed.var("v0", ()), ed.var("v1", ())
    steps = explain_steps(ed.softplus(v0) * ed.softplus(v1), v0, values={"v0": 1.0, "v1": 2.0}).steps
    np.testing.assert_allclose(matrix_step(steps, "chain rule in numbers"), [[np.log1p(np.exp(2.0))]], rtol=1e-12)
    np.testing.assert_allclose(matrix_step(steps, "gradient as a row"),
                               [[np.log1p(np.exp(2.0)) / (1 + np.exp(-1.0))]], rtol=1e-12)


def test_intermediates_are_named_apart_from_the_variables():
    U1, x = ed.var("U1", (3,)), ed.var("x", (3,))
    text = ed.explain(ed.sum(ed.tanh(U1 * x) * ed.exp(x)), x)
    assert "let: V1[i] = exp(x[i])" in text and "let: U1" not in text
    assert text.splitlines()[-2] == "result: ∂f/∂x[a] = ((1 - square(tanh(x[a] U1[a]))) U1[a] + tanh(x[a] U1[a])) exp(x[a])"


def test_numbers_for_variables_named_like_options():
    x, A = ed.var("format", (2,)), ed.var("backend", (2, 2))
    text = ed.explain((A @ x).sum(), x, values={"format": np.ones(2), "backend": np.array([[1.0, 2.0], [3.0, 4.0]])})
    assert text.splitlines()[-1] == "  [ 4  6 ]"
