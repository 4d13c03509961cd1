"""The einsdiff command end to end, through a subprocess, as a user runs it."""

import subprocess
import sys

import numpy as np
import pytest
from test_explain import matrix_after

from einsdiff.calculus.derive import jacobian
from einsdiff.frontends import session
from einsdiff.frontends.cli import main

SEED_001 = ["--shape", "A=2x3", "--shape", "W=3x2", "--shape", "B=2"]
SIGNS = "±[0.5, 1.5] with random signs, both in every variable of 2 or more entries"  # how --check draws values


def einsdiff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "einsdiff", *args], capture_output=True, text=True, timeout=120)


def test_einsum_equation_by_operand_position():
    run = einsdiff("ij,j->i", "--wrt", "0", "--shape", "2x3", "--shape", "3")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "f[i] = A[i,j] B[j]",
        "∂f[i]/∂A[a,b] = δ[i,a] B[b]; i:2, a:2",
        "shape: (2)×(2×3) = (2, 2, 3)",
    ]


def test_formula_with_check_names_derivative_indices_apart_from_the_formulas_letters():
    run = einsdiff("relu(W[i,j]*x[j]+b[i])", "--wrt", "W", "--shape", "W=3x4", "--shape", "x=4", "--shape", "b=3",
                   "--check")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "f[i] = relu(W[i,j] x[j] + b[i])"
    assert lines[1] == "∂f[i]/∂W[a,c] = δ[i,a] step(W[i,j] x[j] + b[i]) x[c]; a:3"  # b is a variable
    assert lines[-1].startswith("shape: ")  # the check is a diagnostic: stderr
    line = run.stderr.strip()
    assert line.startswith("check: max |derivative - central finite differences| = ")
    assert line.endswith(f"random inputs {SIGNS}; seed 0): ok")
    assert float(line.split("= ")[1].split()[0]) < 1e-6


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
    assert lines[6].startswith("∂²L/∂A[a,b] ∂A[c,d] = δ[a,d] t4[a] x[b] t3[c]")
    assert run.stderr.strip().endswith(": ok")


def test_printed_formulas_keep_the_letters_typed():
    run = einsdiff("L = sum[n]((A[n,j]*x[j] - y[n])^2)", "--wrt", "x", "--shape", "A=2x3", "--shape", "x=3", "--shape", "y=2")
    assert run.stdout.splitlines()[:2] == ["L = Σ[n](square(A[n,j] x[j] - y[n]))",
                                           "∂L/∂x[a] = 2 Σ[n](A[n,a] (A[n,j] x[j] - y[n]))"]
    assert einsdiff("pq,q->p", "--wrt", "1", "--shape", "2x3", "--shape", "3").stdout.splitlines()[0] == "f[p] = A[p,q] B[q]"


def test_matrix_format():
    args = ["L = sum[i]((A[i,j]*x[j] - y[i])^2)", "--wrt", "x", "--shape", "A=4x3", "--shape", "x=3", "--shape", "y=4"]
    run = einsdiff(*args, "--format", "matrix")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["L = ‖A x − y‖²", "∂L/∂x = 2 Aᵀ (A x − y)"]
    assert einsdiff(*args, "--format", "matrix", "--hessian").stdout.splitlines()[-1] == "∂²L/∂x² = 2 Aᵀ A"
    run = einsdiff("Z[i,j] = A[i,k]*W[k,j] + B[j]", "--wrt", "W", *SEED_001, "--format", "matrix")
    assert run.stdout.splitlines() == ["Z = A W + 𝟙 Bᵀ", "∂vec(Z)/∂vec(W) = A ⊗ I   (vec stacks rows)"]  # seed 001
    run = einsdiff("Z[i,j] = A[i,k]*W[k,j] + B[j]", "--wrt", "W", *SEED_001, "--format", "matrix", "--order", "column")
    assert run.stdout.splitlines()[-1] == "∂vec(Z)/∂vec(W) = I ⊗ A   (vec stacks columns)"  # the Cookbook's form
    run = einsdiff("Z[i,j] = W[j,i]", "--wrt", "W", "--shape", "W=3x2", "--format", "matrix")  # a commutation
    assert run.returncode == 2 and "use --format text for index notation" in run.stderr and "ed." not in run.stderr


def test_hessian_latex_and_einsum_formats():
    args = ["L = sum[i]((A[i,j]*x[j] - y[i])^2)", "--wrt", "x", "--shape", "A=2x3", "--shape", "x=3", "--shape", "y=2"]
    run = einsdiff(*args, "--hessian", "--check")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1] == "∂²L/∂x[a] ∂x[b] = 2 A[i,a] A[i,b]"
    assert run.stderr.strip().endswith(": ok")
    run = einsdiff(*args, "--format", "latex")
    assert run.returncode == 0, run.stderr
    assert r"\frac{\partial L}{\partial x_{a}}" in run.stdout
    run = einsdiff(*args, "--format", "einsum")
    assert run.returncode == 0, run.stderr
    assert "np.einsum(" in run.stdout


def test_matrix_functions_with_check_draw_invertible_matrices():
    run = einsdiff("logdet(X)", "--wrt", "X", "--shape", "X=3x3", "--check")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["f = log det(X)", "∂f/∂X = X⁻ᵀ", "in index notation:", "f = logdet(X)",
                                       "∂f/∂X[a,b] = inv(X)[b,a]", "shape: (1)×(3×3) = (3, 3)"]
    assert run.stderr.strip().endswith(f"random inputs {SIGNS}; X's diagonal in [0.5, 1.5] + 4.5, "
                                       "so X is invertible with det > 0; seed 0): ok")
    formula = "L = sum[i](logsumexp[j](solve(A, B)[i,j]) - where(b[i] > 1, softplus(b[i]), 0.1*b[i]))"
    run = einsdiff(formula, "--wrt", "A", "--shape", "A=2x2", "--shape", "B=2x3", "--shape", "b=2", "--hessian", "--check")
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip().endswith(": ok")


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
    assert 'einsdiff = "einsdiff.frontends.cli:main"' in text


# -- stdout holds only what was asked for (issue 13, item 6) ------------------------------


def test_numpy_format_with_check_writes_a_file_python_runs(tmp_path):
    run = einsdiff("x[i]*A[i,j]*x[j]", "--wrt", "x", "--shape", "x=3", "--shape", "A=3x3", "--format", "numpy", "--check")
    assert run.returncode == 0, run.stderr
    assert "check:" not in run.stdout
    assert run.stderr.startswith("check: max |derivative - central finite differences|") and run.stderr.count("\n") == 1
    module = tmp_path / "g.py"
    module.write_text(run.stdout + "\nimport numpy as np\nprint(f(np.eye(3), np.ones(3))['jacobian'])\n", encoding="utf-8")
    ran = subprocess.run([sys.executable, str(module)], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["[2.", "2.", "2.]"]  # (A + Aᵀ) x


def test_a_failed_check_exits_1_with_the_mismatch_on_stderr(monkeypatch, capsys):
    monkeypatch.setattr(session, "jacobian", lambda f, wrt: jacobian(f, wrt) * 1.5)  # a wrong derivative
    assert main(["relu(x[i])", "--wrt", "x", "--shape", "x=3", "--check"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("f[i] = relu(x[i])") and "check" not in out
    assert err.strip().endswith(": MISMATCH")


# -- the command reads what a user types (issue 13, item 10) ------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["-sum[i](z[i])", "--wrt", "z", "--shape", "z=3"],
        ["--", "-sum[i](z[i])", "--wrt", "z", "--shape", "z=3"],
        ["--wrt", "z", "--shape", "z=3", "--", "-sum[i](z[i])"],
        ["--wrt", "z", "-sum[i](z[i])", "--shape=z=3"],
        ["--wr", "z", "-sum[i](z[i])", "--shap", "z=3"],
    ],
)
def test_an_expression_may_start_with_a_minus(args, capsys):
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["f = -Σ[i](z[i])", "∂f/∂z[a] = -1; a:3"]


def test_a_leading_minus_end_to_end_and_a_negated_scalar():
    run = einsdiff("-sum[i](z[i])", "--wrt", "z", "--shape", "z=3", "--check", "--seed", "2")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "f = -Σ[i](z[i])" and run.stderr.strip().endswith("seed 2): ok")
    run = einsdiff("-x", "--wrt", "x", "--shape", "x=scalar")
    assert run.returncode == 0 and run.stdout.splitlines()[:2] == ["f = -x", "∂f/∂x = -1"], run.stderr


def test_help_names_the_playground_and_every_option():
    run = einsdiff("--help")
    assert run.returncode == 0 and run.stderr == ""
    assert "einsdiff serve [--host HOST] [--port PORT]" in run.stdout
    for option in ("--wrt", "--shape", "--format", "--hessian", "--share", "--check", "--value", "--order", "--seed",
                   "--notation", "--symmetric"):
        assert option in run.stdout


def test_implicit_einsum_output_keeps_the_letters_typed(capsys):
    assert main(["ij,jk", "--wrt", "1", "--shape", "2x3", "--shape", "3x4"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "f[i,k] = A[i,j] B[j,k]"


def test_shapes_may_be_written_as_tuples(capsys):
    assert main(["A[i,j]*x[j]", "--wrt", "x", "--shape", "A=(2, 3)", "--shape", "x=(3,)"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "shape: (2)×(3) = (2, 3)"


def test_bare_letters_are_an_equation_unless_a_shape_names_them(capsys):
    assert main(["x", "--wrt", "x", "--shape", "x=scalar", "--check"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[:2] == ["f = x", "∂f/∂x = 1"] and " over 1 entry " in err
    assert main(["ii", "--wrt", "0", "--shape", "3x3"]) == 0  # a trace
    assert capsys.readouterr().out.splitlines()[:2] == ["f = A[i,i]", "∂f/∂A[a,b] = δ[a,b]; a:3, b:3"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--shape", "Q=3"],
         "--shape Q=3: the formula has no variable 'Q'; its variables are x"),
        (["A[i,j]*x[j]", "--wrt", "x", "--shape", "A=3x3", "--shape", "x=3", "--shape", "A=3x4"],
         "--shape A is given twice (3x3 and 3x4); give each variable one shape"),
        (["x[i]", "--wrt", "x", "--shape", "x="], "--shape x=: no sizes after '='; write e.g. x=3x4, or x=scalar"),
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--value", "x=[1,2,3]"],
         "--value gives --format explain its numbers only; add --format explain, or drop --value"),
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--format", "explain", "--value", "q=[1]"],
         "--value q=[1]: the expression has no variable 'q'; its variables are x"),
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--format", "explain", "--value", "x=[1,2]"],
         "--value x=[1,2]: an array of shape (2,), but x has shape (3,); give an array of that shape"),
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--format", "explain", "--value", "x=[1,2,3]", "--value", "x=[1,2,3]"],
         "--value x is given twice"),
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--order", "column"], "add --format explain, or drop --order"),
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--seed", "3"], "--seed seeds the random values of --check only"),
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--check", "--seed", "-1"], "'-1' is not a whole number >= 0"),
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--share", "--format", "numpy"], "or drop --share"),
        (["tr[i,j]*x[j]", "--wrt", "x", "--shape", "x=4"],
         "no shape for 'tr' (column 1), which the formula writes with 2 indices; add --shape tr=3x4"),
        (["x[i] + b", "--wrt", "x", "--shape", "x=4"], "add --shape b=scalar, one size per index"),
        (["reluu(x[i])", "--wrt", "x", "--shape", "x=4"],
         "unknown function 'reluu'; did you mean relu?"),
        (["ij,j->i", "--wrt", "0", "--shape", "A=2x3", "--shape", "3"], "operands take shapes in order, without names"),
        (["Z[i,j] = W[j,i]", "--wrt", "W", "--shape", "W=3x2", "--format", "matrix"], "use --format text"),
        (["x[i]*y[j]", "--wrt", "x", "--shape", "x=3000", "--shape", "y=3000", "--check"],
         "check the formula at smaller shapes"),
        (["", "--wrt", "x"], "the expression is empty"),
        (["x[i]", "--wrt", "x", "--shape", "x=3", "--hesian"],
         "unrecognized arguments: --hesian (see einsdiff --help)"),
        (["x[i]", "y[i]", "--wrt", "x", "--shape", "x=3"], "unrecognized arguments: y[i]"),
        (["x[i] - x[i]", "--wrt", "x", "--shape", "x=3"], "it has none (it is a constant)"),
    ],
)
def test_every_mistake_is_one_line_in_the_commands_own_terms(args, message, capsys):
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("einsdiff: error: "), err
    assert message in err, err
    assert "ed." not in err and "=(" not in err, err  # no Python syntax in a command's hint


def test_a_variable_called_like_a_function_is_told_to_use_brackets():
    run = einsdiff("A(i,j)*x[j]", "--wrt", "x", "--shape", "A=2x3", "--shape", "x=3")
    assert run.returncode == 2
    assert "'A' is a variable, not a function: index it with brackets, A[i,j]" in run.stderr
    run = einsdiff("s (x[i] + 1)", "--wrt", "x", "--shape", "s=scalar", "--shape", "x=3")
    assert run.returncode == 0 and run.stdout.splitlines()[0] == "f[i] = (x[i] + 1) s"


def test_the_einsum_format_runs_as_printed():
    run = einsdiff("Z[i,j] = A[i,k]*W[k,j] + B[j]", "--wrt", "W", "--shape", "A=2x3", "--shape", "W=3x2",
                   "--shape", "B=2", "--format", "einsum")
    assert run.returncode == 0, run.stderr
    A = np.arange(6.0).reshape(2, 3)
    namespace = {"A": A, "W": np.ones((3, 2)), "B": np.ones(2)}
    exec(run.stdout, namespace)  # numpy refuses "ik->ijkj": the delta must be a diagonal view
    np.testing.assert_array_equal(namespace["f"], np.einsum("ik,jl->ijkl", A, np.eye(2)))


def test_a_variable_called_serve_is_a_formula_not_the_subcommand():
    run = einsdiff("serve", "--wrt", "serve", "--shape", "serve=scalar")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[:2] == ["f = serve", "∂f/∂serve = 1"]


def test_matrix_notation_is_read_by_default_and_checks():
    run = einsdiff("norm2(A*x - y)^2", "--wrt", "x", "--shape", "A=4x3", "--shape", "x=3", "--shape", "y=4", "--check")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "shape: (1)×(3) = (3,)"
    assert run.stderr.strip().endswith("seed 0): ok")
    run = einsdiff("x'*A*x", "--wrt", "x", "--shape", "x=3", "--shape", "A=3x3")
    assert run.stdout.splitlines()[0] == "f = xᵀ A x", run.stderr


def test_matrix_notation_is_answered_in_matrix_then_index_notation(capsys):
    """Asked in matrix notation, the answer leads with it; index notation follows as the bridge."""
    args = ["x'*A*x", "--wrt", "x", "--shape", "x=3", "--shape", "A=3x3"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "f = xᵀ A x" and lines[1].startswith("∂f/∂x = ")
    assert lines[2:] == ["in index notation:", "f = x[i] x[j] A[i,j]", "∂f/∂x[a] = A[a,i] x[i] + A[i,a] x[i]",
                         "shape: (1)×(3) = (3,)"]
    assert main([*args, "--format", "text"]) == 0  # asked for index notation: only that
    assert capsys.readouterr().out.splitlines()[0] == "f = x[i] x[j] A[i,j]"
    assert main(["A*W + B", "--wrt", "W", "--shape", "A=4x3", "--shape", "W=3x2", "--shape", "B=4x2"]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == [
        "f = A W + B", "∂vec(f)/∂vec(W) = A ⊗ I   (vec stacks rows)", "in index notation:"]
    # A formula with no indices reads alike in both notations; it is answered as written, in matrices.
    assert main(["log(det(X))", "--wrt", "X", "--shape", "X=3x3"]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == ["f = log(det(X))", "∂f/∂X = X⁻ᵀ", "in index notation:"]
    # A commutation has no matrix form: index notation alone, with no heading for it.
    assert main(["X'", "--wrt", "X", "--shape", "X=3x2"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "f[i,j] = X[j,i]", "∂f[i,j]/∂X[a,b] = δ[j,a] δ[i,b]; i:2, j:3, a:3, b:2", "shape: (2×3)×(3×2) = (2, 3, 3, 2)"]


def test_notation_flag_chooses_the_reading():
    run = einsdiff("x'*A*x", "--wrt", "x", "--shape", "x=3", "--shape", "A=3x3", "--notation", "index")
    assert run.returncode == 2 and "write a transpose by swapping indices" in run.stderr
    run = einsdiff("x'*Q*x", "--wrt", "x", "--shape", "x=3")
    assert run.returncode == 2
    assert "no shape for 'Q' (column 4); add --shape Q=3x4, or Q=3 for a vector" in run.stderr


SYMMETRIC_QUADRATIC = ["f = x'*S*x", "--wrt", "x", "--shape", "x=3", "--shape", "S=3x3", "--symmetric", "S"]


def test_symmetric_flag_gives_one_term_gradient_and_hessian(capsys):
    assert main(SYMMETRIC_QUADRATIC) == 0
    assert capsys.readouterr().out.splitlines()[:5] == ["f = xᵀ S x", "∂f/∂x = 2 S x", "in index notation:",
                                                        "f = x[i] x[j] S[i,j]", "∂f/∂x[a] = 2 S[a,i] x[i]"]
    assert main([*SYMMETRIC_QUADRATIC, "--format", "matrix"]) == 0
    assert capsys.readouterr().out.splitlines() == ["f = xᵀ S x", "∂f/∂x = 2 S x"]
    assert main([*SYMMETRIC_QUADRATIC, "--hessian", "--check"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1] == "∂²f/∂x² = 2 S" and err.strip().endswith("seed 0): ok")
    assert out.splitlines()[4] == "∂²f/∂x[a] ∂x[b] = 2 S[a,b]"
    assert main([*SYMMETRIC_QUADRATIC, "--hessian", "--format", "matrix"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "∂²f/∂x² = 2 S"


def test_symmetric_flag_checks_by_the_symmetric_variable(capsys):
    """--check draws a symmetric S (the engine refuses any other) and differentiates within them."""
    args = ["f = x'*S*x + logdet(S)", "--wrt", "S", "--shape", "x=3", "--shape", "S=3x3", "--symmetric", "S", "--check"]
    assert main(args) == 0
    assert capsys.readouterr().err.strip().endswith("seed 0): ok")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--symmetric", "T"], "--symmetric T: the formula has no variable 'T'; its variables are x, S"),
        (["--symmetric", "x"], "--symmetric x: x has shape 3, but a symmetric matrix is square; give it e.g. --shape x=3x3"),
    ],
)
def test_symmetric_flag_refuses_a_non_variable_or_non_square(extra, message, capsys):
    assert main([*SYMMETRIC_QUADRATIC[:-2], *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err


def test_symmetric_flag_needs_a_shape_and_a_formula(capsys):
    assert main(["x'*S*x", "--wrt", "x", "--shape", "x=3", "--symmetric", "S"]) == 2
    assert "--symmetric S: give S a square shape too, e.g. --shape S=3x3" in capsys.readouterr().err
    assert main(["ij,j->i", "--wrt", "0", "--shape", "3x3", "--shape", "3", "--symmetric", "A"]) == 2
    assert "--symmetric A: an einsum equation's operands cannot be symmetric" in capsys.readouterr().err
