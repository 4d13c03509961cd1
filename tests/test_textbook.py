"""The textbook table (examples/textbook_table.py): each row, typed in matrix notation, is
differentiated by einsdiff and checked against the textbook's closed form in NumPy; what
einsdiff prints must not be much longer than what the textbook prints; and the table of the
matrix-notation guide (docs/guides/matrix-notation.md) is the generator's output."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.notation.matrixform import matrix_form

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _load_table():
    spec = importlib.util.spec_from_file_location("textbook_table", ROOT / "examples" / "textbook_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


table = _load_table()
ROWS = table.ROWS
IDS = [row.id for row in ROWS]

# einsdiff's printed result may be at most this many times as long as the textbook's.
BOUND = 1.5


def printed_length(text: str) -> int:
    """Characters of a printed form, spaces not counted: ``2 Aᵀ (A x − y)`` has 9
    (``ᵀ``, ``−`` and ``𝟙`` are one character each, ``⁻¹`` two)."""
    return len("".join(text.split()))


def within_bound(ours: str, textbook: str) -> bool:
    return printed_length(ours) <= BOUND * printed_length(textbook)


def test_printed_length_counts_characters_without_spaces():
    assert printed_length("2 Aᵀ (A x − y)") == 9
    assert printed_length("2Aᵀ(Ax−y)") == 9
    assert printed_length("X⁻ᵀ") == 3
    assert printed_length("(X⁻¹)ᵀ") == 6
    assert printed_length("diag(𝟙 − tanh(W x)∘²) W") == 19


def test_the_bound_is_one_and_a_half_times_the_textbook():
    assert within_bound("abc", "ab")  # 3 = 1.5 × 2: allowed
    assert not within_bound("abcd", "ab")
    assert not within_bound("(X⁻¹)ᵀ", "X⁻ᵀ")  # 6 > 4.5
    assert within_bound("B x + Bᵀ x", "(B + Bᵀ) x")  # 7 against 8: spaces count on neither side
    assert within_bound("a b c d e f", "a b c d")  # 6 ≤ 6


def test_the_table_has_forty_distinct_rows_of_every_kind():
    assert len([row for row in ROWS if not row.longer]) >= 40  # 40 within the bound, known gaps aside
    assert len(set(IDS)) == len(IDS)
    assert {row.order for row in ROWS} == set(table.ORDERS)
    assert any(row.symmetric for row in ROWS)
    assert any(table.kronecker_rows(row, table.derivative(row)) for row in ROWS if row.order == "Jacobian")


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_textbook_strings_are_in_einsdiff_notation(row):
    """The textbook's form is written as einsdiff prints: − (not -), ᵀ (not '), products by
    juxtaposition (no * or @), no index brackets."""
    assert not set("-'*@^[]") & set(row.textbook), row.textbook
    assert row.wrt in row.shapes


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_einsdiff_agrees_with_the_textbook(row):
    d = table.derivative(row)
    vals = table.values(row)
    want = table.textbook_value(row, vals)
    got = np.asarray(ed.evaluate(d, vals), dtype=float)
    rows = table.kronecker_rows(row, d)
    if rows is None:
        assert got.shape == want.shape
    else:  # the textbook's matrix is the row-major flattening of the derivative
        assert want.shape == (int(np.prod(got.shape[:rows])), int(np.prod(got.shape[rows:])))
        got = got.reshape(want.shape)
    tol = 1e-9 * max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=tol)
    # and what the table shows as einsdiff's result evaluates to the same
    shown = matrix_form(d, rows).evaluate(vals)
    np.testing.assert_allclose(np.reshape(shown, want.shape), want, rtol=1e-9, atol=tol)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_einsdiff_prints_about_as_short_as_the_textbook(row):
    ours = table.einsdiff_form(row)
    short_enough = within_bound(ours, row.textbook)
    if row.longer:  # a known gap, said in the table; once closed, the row must drop its note
        assert not short_enough, f"{row.id} now prints {ours!r}: remove its longer= note"
        return
    assert short_enough, (
        f"einsdiff prints {ours!r} ({printed_length(ours)} characters), "
        f"the textbook {row.textbook!r} ({printed_length(row.textbook)})")


def test_values_are_well_conditioned_and_reproducible():
    for row in ROWS:
        vals = table.values(row)
        for name, v in vals.items():
            if v.ndim == 2 and v.shape[0] == v.shape[1]:
                assert np.linalg.det(v) > 0 and np.linalg.cond(v) < 30, (row.id, name)
            if name in row.symmetric:
                np.testing.assert_array_equal(v, v.T)
                assert np.all(np.linalg.eigvalsh(v) > 0), (row.id, name)
        again = table.values(row)
        assert all(np.array_equal(vals[k], again[k]) for k in vals)


def test_symmetric_gradient_is_the_symmetric_part():
    """For S = Sᵀ the gradient is (G + Gᵀ)/2 of the unconstrained G: tr(A S) gives (A + Aᵀ)/2."""
    row = next(r for r in ROWS if r.id == "sym-tr-AS")
    plain = ed.grad(ed.parse(row.formula, notation="matrix", A=(3, 3), S=(3, 3)), ed.var("S", (3, 3)))
    vals = table.values(row)
    g = ed.evaluate(plain, vals)
    np.testing.assert_allclose(ed.evaluate(table.derivative(row), vals), (g + g.T) / 2, rtol=1e-12)
    assert not np.allclose(g, g.T)


def test_markdown_has_a_line_per_row():
    text = table.markdown()
    lines = text.splitlines()
    assert lines[0].startswith("| formula (matrix notation) | ∂ w.r.t. | einsdiff | textbook |")
    assert len(lines) == 2 + len(ROWS)
    assert "| `tr(A*X*B)` | X (gradient) | `Aᵀ Bᵀ` | `Aᵀ Bᵀ` |" in text


def test_the_matrix_notation_guides_table_is_the_generators():
    page = (ROOT / "docs" / "guides" / "matrix-notation.md").read_text(encoding="utf-8")
    assert table.PAGE == ROOT / "docs" / "guides" / "matrix-notation.md"
    assert page.count(table.START) == 1 and page.count(table.END) == 1
    shown = page.split(table.START + "\n", 1)[1].split(table.END, 1)[0]
    assert shown == table.markdown(), "run: python examples/textbook_table.py --write docs/guides/matrix-notation.md"


def test_write_replaces_only_the_table(tmp_path):
    path = tmp_path / "page.md"
    path.write_text(f"before\n{table.START}\nold table\n{table.END}\nafter\n", encoding="utf-8")
    table.write(path)
    assert path.read_text(encoding="utf-8") == f"before\n{table.START}\n{table.markdown()}{table.END}\nafter\n"
