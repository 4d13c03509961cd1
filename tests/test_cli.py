"""The einsdiff command end to end, through a subprocess, as a user runs it."""

import subprocess
import sys

import numpy as np
import pytest
from test_explain import matrix_after

SEED_001 = ["--shape", "A=2x3", "--shape", "W=3x2", "--shape", "B=2"]


def einsdiff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "einsdiff", *args], capture_output=True, text=True, timeout=120)


def test_einsum_equation_by_operand_position():
    run = einsdiff("ij,j->i", "--wrt", "0", "--shape", "2x3", "--shape", "3")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "f[i] = A[i,j] B[j]",
        "∂f[i]/∂A[a,j] = δ[i,a] B[j]; i:2, a:2",
        "shape: (2)×(2×3) = (2, 2, 3)",
    ]


def test_formula_with_check_names_derivative_indices_after_the_variable():
    run = einsdiff("relu(W[i,j]*x[j]+b[i])", "--wrt", "W", "--shape", "W=3x4", "--shape", "x=4", "--shape", "b=3",
                   "--check")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "f[i] = relu(W[i,j] x[j] + b[i])"
    assert lines[1] == "∂f[i]/∂W[a,j] = δ[i,a] step(W[i,k] x[k] + b[i]) x[j]; a:3"
    assert lines[-1].startswith("check: max |derivative - central finite differences| = ")
    assert lines[-1].endswith(": ok")
    assert float(lines[-1].split("= ")[1].split()[0]) < 1e-6


def test_seed_001_explain_prints_the_4_by_6_jacobian():
    run = einsdiff("Z[i,j] = A[i,k]*W[k,j] + B[j]", "--wrt", "W", *SEED_001, "--format", "explain",
                   "--value", "A=[[1,2,3],[4,5,6]]")
    assert run.returncode == 0, run.stderr
    # The formula keeps the letters typed; the derivative's indices are letters it does not write.
    assert "formula: Z[i,j] = A[i,k] W[k,j] + B[j]" in run.stdout
    assert "result: ∂Z[i,j]/∂W[a,b] = δ[j,b] A[i,a]" in run.stdout
    want = [[1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3], [4, 0, 5, 0, 6, 0], [0, 4, 0, 5, 0, 6]]
    np.testing.assert_array_equal(matrix_after(run.stdout, "Jacobian matrix (row-major vec)"), want)


def test_seed_001_explain_of_the_sum_gives_5_5_7_7_9_9():
    run = einsdiff("S = sum[i,j](A[i,k]*W[k,j] + B[j])", "--wrt", "W", *SEED_001, "--format", "explain",
                   "--value", "A=[[1,2,3],[4,5,6]]")
    assert run.returncode == 0, run.stderr
    assert "chain rule through U1" in run.stdout
    np.testing.assert_array_equal(matrix_after(run.stdout, "reshaped to the shape of W"), [[5, 5], [7, 7], [9, 9]])


def test_seed_000_neuron_and_seed_003_ax_explain():
    run = einsdiff("relu(w[i]*x[i] + b)", "--wrt", "w", "--shape", "w=3", "--shape", "x=3", "--shape", "b=scalar",
                   "--format", "explain")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-2] == "result: ∂f/∂w[a] = x[a] step(x[i] w[i] + b)"
    assert run.stdout.splitlines()[-1].startswith("in matrix notation: ∂f/∂w = step(xᵀ w + b) x")
    run = einsdiff("f[i] = A[i,j]*x[j]", "--wrt", "A", "--shape", "A=2x3", "--shape", "x=3", "--format", "explain")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-2:] == ["result: ∂f[i]/∂A[a,b] = δ[i,a] x[b]",
                                            "in matrix notation: ∂f/∂vec(A) = I ⊗ xᵀ   (vec stacks rows)"]


def test_hessian_of_a_vector_is_explained_per_entry():
    run = einsdiff("y[i,j] = x[i]*x[j]", "--wrt", "x", "--shape", "x=3", "--hessian", "--format", "explain")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "result: ∂g_y[i,j,a]/∂x[b] = δ[i,a] δ[j,b] + δ[j,a] δ[i,b]"


def test_share_names_what_the_derivative_repeats():
    run = einsdiff("L = sum[i](tanh(A[i,j]*tanh(A[j,k]*x[k])))", "--wrt", "A", "--shape", "A=3x3", "--shape", "x=3",
                   "--hessian", "--share", "--check")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[1:3] == ["t1[i] = tanh(A[i,k] x[k])", "t2[i] = tanh(A[i,j] t1[j])"]  # the formula's own letters
    assert lines[6].startswith("∂²L/∂A[i,j] ∂A[a,b] = δ[i,b] t4[i] x[j] t3[a]")
    assert lines[-1].endswith(": ok")


def test_printed_formulas_keep_the_letters_typed():
    run = einsdiff("L = sum[n]((A[n,j]*x[j] - y[n])^2)", "--wrt", "x", "--shape", "A=2x3", "--shape", "x=3", "--shape", "y=2")
    assert run.stdout.splitlines()[:2] == ["L = Σ[n](square(A[n,j] x[j] - y[n]))",
                                           "∂L/∂x[j] = Σ[n](2 A[n,j] (A[n,i] x[i] - y[n]))"]
    assert einsdiff("pq,q->p", "--wrt", "1", "--shape", "2x3", "--shape", "3").stdout.splitlines()[0] == "f[p] = A[p,q] B[q]"


def test_matrix_format():
    args = ["L = sum[i]((A[i,j]*x[j] - y[i])^2)", "--wrt", "x", "--shape", "A=4x3", "--shape", "x=3", "--shape", "y=4"]
    run = einsdiff(*args, "--format", "matrix")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["L = sum((A x − y)∘²)", "∂L/∂x = 2 Aᵀ (A x − y)"]
    assert einsdiff(*args, "--format", "matrix", "--hessian").stdout.splitlines()[-1] == "∂²L/∂x² = 2 Aᵀ A"
    run = einsdiff("Z[i,j] = A[i,k]*W[k,j] + B[j]", "--wrt", "W", *SEED_001, "--format", "matrix")
    assert run.stdout.splitlines() == ["Z = A W + 𝟙 Bᵀ", "∂vec(Z)/∂vec(W) = A ⊗ I"]  # seed 001, row-major vec
    run = einsdiff("Z[i,j] = W[j,i]", "--wrt", "W", "--shape", "W=3x2", "--format", "matrix")  # a commutation
    assert run.returncode == 2 and "that is no Kronecker product; use ed.to_index_notation" in run.stderr


def test_hessian_latex_and_einsum_formats():
    args = ["L = sum[i]((A[i,j]*x[j] - y[i])^2)", "--wrt", "x", "--shape", "A=2x3", "--shape", "x=3", "--shape", "y=2"]
    run = einsdiff(*args, "--hessian", "--check")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1] == "∂²L/∂x[j] ∂x[a] = 2 A[i,j] A[i,a]"
    assert run.stdout.splitlines()[-1].endswith(": ok")
    run = einsdiff(*args, "--format", "latex")
    assert run.returncode == 0, run.stderr
    assert r"\frac{\partial L}{\partial x_{j}}" in run.stdout
    run = einsdiff(*args, "--format", "einsum")
    assert run.returncode == 0, run.stderr
    assert "einsum(" in run.stdout


def test_matrix_functions_with_check_draw_invertible_matrices():
    run = einsdiff("logdet(X)", "--wrt", "X", "--shape", "X=3x3", "--check")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[:3] == ["f = logdet(X)", "∂f/∂X[a,b] = inv(X)[b,a]", "shape: (1)×(3×3) = (3, 3)"]
    assert "random inputs in [0.5, 1.5], X + 4.5·I, seed 0): ok" in lines[-1]
    formula = "L = sum[i](logsumexp[j](solve(A, B)[i,j]) - where(b[i] > 1, softplus(b[i]), 0.1*b[i]))"
    run = einsdiff(formula, "--wrt", "A", "--shape", "A=2x2", "--shape", "B=2x3", "--shape", "b=2", "--hessian", "--check")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1].endswith(": ok")


def test_numpy_format_is_code_that_runs(tmp_path):
    run = einsdiff("ij,j->i", "--wrt", "0", "--shape", "2x3", "--shape", "3", "--format", "numpy")
    assert run.returncode == 0, run.stderr
    namespace = {}
    exec(compile(run.stdout, "generated", "exec"), namespace)  # noqa: S102 - the code under test
    A, B = np.arange(6.0).reshape(2, 3), np.array([1.0, 2.0, 3.0])
    out = namespace["f"](A, B)
    np.testing.assert_allclose(out["value"], A @ B)
    np.testing.assert_allclose(out["jacobian"], np.einsum("ia,j->iaj", np.eye(2), B))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x[j] $ 2", "--wrt", "x", "--shape", "x=3"], "unexpected character '$' (column 6)"),
        (["W[i,j]*x[j]", "--wrt", "W", "--shape", "W=3x4", "--shape", "x=5"], "index 'j' has sizes"),
        (["W[i,j]*x[j]", "--wrt", "q", "--shape", "W=3x4", "--shape", "x=4"], "--wrt 'q' is not a variable"),
        (["W[i,j]*x[j]", "--wrt", "W", "--shape", "W=3by4", "--shape", "x=4"], "is not a shape"),
        (["ij,j->i", "--wrt", "0", "--shape", "2x3"], "has 2 operands; give one --shape each"),
        (["ij,j->i", "--wrt", "5", "--shape", "2x3", "--shape", "3"], "--wrt '5'"),
        (["ij,jk->i", "--wrt", "0", "--shape", "2x3", "--shape", "4x2"], "'j'"),
        (["W[i,j]*x[j]", "--shape", "W=3x4"], "the following arguments are required: --wrt"),
        (["W[i,j]*x[j]", "--wrt", "W", "--shape", "3x4", "--shape", "x=4"], "for a formula give NAME=SIZES"),
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--format", "pdf"], "invalid choice: 'pdf'"),
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--format", "explain", "--value", "x=[1,2"], "--value 'x=[1,2'"),
        (["det(W)", "--wrt", "W", "--shape", "W=3x4"], "det: variable 'W' has shape (3, 4); it must be a square matrix"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    run = einsdiff(*args)
    assert run.returncode == 2
    assert run.stdout == ""
    err = run.stderr.strip()
    assert "\n" not in err and err.startswith("einsdiff: error: "), err
    assert message in err, err
    assert "Traceback" not in run.stderr


def test_console_script_is_declared():
    text = open("pyproject.toml", encoding="utf-8").read()
    assert 'einsdiff = "einsdiff.cli:main"' in text
