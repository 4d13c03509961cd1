"""The playground: its API through Starlette's test client, and its page in headless Chromium."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")
from starlette.testclient import TestClient  # noqa: E402

from einsdiff import EinsdiffError  # noqa: E402
from einsdiff.frontends.cli import main  # noqa: E402
from einsdiff.frontends.web.app import create_app  # noqa: E402
from einsdiff.frontends.web.service import EXAMPLES, Limits  # noqa: E402

SEED_001 = {
    "formula": "Z[i,j] = A[i,k]*W[k,j] + B[j]", "wrt": "W", "order": 1,
    "shapes": {"A": "2x3", "W": "3x2", "B": "2"}, "values": {"A": "[[1,2,3],[4,5,6]]"},
}
JACOBIAN_001 = [[1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3], [4, 0, 5, 0, 6, 0], [0, 4, 0, 5, 0, 6]]
# A derivation that takes seconds (about 5 on a 2-core machine): the Hessian of nine nested layers.
SLOW = {"formula": "L = sum[j](tanh(A[j,k]*tanh(A[k,l]*tanh(A[l,m]*tanh(A[m,n]*tanh(A[n,p]*tanh(A[p,q]*tanh("
                   "A[q,r]*tanh(A[r,s]*tanh(A[s,t]*x[t]))))))))))",
        "wrt": "A", "order": 2, "shapes": {"A": "3x3", "x": "3"}}
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Limits(seconds=20))) as c:
        yield c


def test_seed_001_derivative(client):
    answer = client.post("/api/derive", json=SEED_001).json()
    assert answer["matrix"] == JACOBIAN_001
    assert answer["matrix_shape"] == [4, 6]
    assert answer["layout"] == "a 4×6 matrix when flattened row by row"
    assert answer["shape"] == "(2×2)×(3×2)"
    assert answer["derivative_text"] == "∂Z[i,j]/∂W[a,b] = δ[j,b] A[i,a]; j:2, b:2"
    assert answer["matrix_note"] == ("at random values for W, B: ±[0.5, 1.5] with random signs, both in every variable "
                                     "of 2 or more entries (seed 0)")
    assert "result: ∂Z[i,j]/∂W[a,b] = δ[j,b] A[i,a]" in answer["steps"]
    math = ET.fromstring(answer["derivative_mathml"])
    assert math.tag == "{http://www.w3.org/1998/Math/MathML}math"
    assert [mi.text for mi in math.iter("{http://www.w3.org/1998/Math/MathML}mi")][:6] == ["Z", "i", "j", "W", "a", "b"]
    assert 'np.einsum("ijkj->jik", t0)[...] = A' in answer["einsum"]
    assert answer["matrix_notation"] == "∂vec(Z)/∂vec(W) = A ⊗ I   (vec stacks rows)"  # the 4×6 matrix is A ⊗ I₂
    assert answer["latex"] == r"\frac{\partial Z_{ij}}{\partial W_{ab}} = \delta_{jb} A_{ia}, \; j \in 1..2, \; b \in 1..2"
    namespace = {}
    exec(answer["numpy"], namespace)  # the copied code runs and gives the same matrix
    import numpy as np

    A = np.array([[1.0, 2, 3], [4, 5, 6]])
    out = namespace["Z"](A=A, B=np.zeros(2), W=np.ones((3, 2)))
    np.testing.assert_array_equal(out["jacobian"].reshape(4, 6), JACOBIAN_001)


def test_summed_indices_keep_the_letters_typed(client):
    mse = next(e for e in EXAMPLES if e["title"].startswith("the MSE loss"))
    answer = client.post("/api/derive", json=mse).json()
    assert answer["formula_text"] == "C = 0.25 Σ[n](square(y[n] - relu(X[n,i] w[i] + b)))"
    assert answer["derivative_text"] == "∂C/∂w[a] = 0.5 Σ[n](X[n,a] (relu(X[n,i] w[i] + b) - y[n]) step(X[n,j] w[j] + b))"


def test_inspect_lists_the_variables(client):
    answer = client.post("/api/inspect", json={"formula": SEED_001["formula"]}).json()
    assert answer == {"name": "Z", "indices": ["i", "j"], "variables": [
        {"name": "A", "letters": ["i", "k"]}, {"name": "W", "letters": ["k", "j"]}, {"name": "B", "letters": ["j"]}]}


def test_matrix_notation_where_matrices_can_say_it(client):
    least_squares = next(e for e in EXAMPLES if e["title"].startswith("‖Ax − y‖²"))
    assert client.post("/api/derive", json=least_squares).json()["matrix_notation"] == "∂L/∂x = 2 Aᵀ (A x − y)"
    quadratic = next(e for e in EXAMPLES if e["title"].startswith("xᵀAx"))
    assert client.post("/api/derive", json=quadratic).json()["matrix_notation"] == "∂²q/∂x² = Aᵀ + A"


def test_the_matrix_form_is_the_headline_where_there_is_one(client):
    """Where matrices can say it, the answer leads with the matrix form of the formula and of its
    derivative (which read back as matrix notation, to the same values); else index notation leads."""
    import numpy as np

    import einsdiff as ed

    quadratic = {"formula": "x'*A*x", "wrt": "x", "order": 1, "shapes": {"A": "3x3", "x": "3"}}
    answer = client.post("/api/derive", json=quadratic).json()
    assert answer["headline"] == "matrix" and answer["formula_matrix_notation"] == "f = xᵀ A x"
    head, _, body = answer["matrix_notation"].partition(" = ")
    assert head == "∂f/∂x" and body == "(A + Aᵀ) x"
    # and typeset: MathML that parses, the derivative's head a fraction
    import xml.etree.ElementTree as ET

    for key in ("matrix_mathml", "formula_matrix_mathml"):
        assert ET.fromstring(answer[key]).tag.endswith("math")
    assert "<mfrac>" in answer["matrix_mathml"] and "⊤" in answer["formula_matrix_mathml"]
    x, A = ed.var("x", (3,)), ed.var("A", (3, 3))
    values = {"x": np.array([1.0, -2.0, 0.5]), "A": np.arange(9.0).reshape(3, 3)}
    np.testing.assert_allclose(ed.evaluate(ed.parse(body, x=x, A=A, notation="matrix"), values),
                               (values["A"] + values["A"].T) @ values["x"])
    assert client.post("/api/derive", json=SEED_001).json()["headline"] == "matrix"  # A ⊗ I
    cubic = {"formula": "f = T[i,j,k]*x[i]*x[j]*x[k]", "wrt": "x", "order": 1, "shapes": {"T": "2x2x2", "x": "2"}}
    answer = client.post("/api/derive", json=cubic).json()
    assert answer["headline"] == "index" and answer["matrix_notation"] is None
    assert answer["formula_matrix_notation"] is None and answer["matrix_mathml"] is None  # T has three axes


def test_the_first_example_is_in_matrix_notation(client):
    first = EXAMPLES[0]
    assert "[" not in first["formula"]
    answer = client.post("/api/derive", json=first).json()
    assert answer["matrix_notation"] == "∂L/∂x = 2 Aᵀ (A x − y)" and answer["formula_text"].startswith("L = ")


def test_notation_chooses_the_reading(client):
    payload = {"formula": "q = x'*A*x", "wrt": "x", "shapes": {"x": "3", "A": "3x3"}}
    assert client.post("/api/inspect", json={**payload, "notation": "matrix"}).json()["variables"] == [
        {"name": "x", "letters": []}, {"name": "A", "letters": []}]
    assert client.post("/api/derive", json={**payload, "notation": "matrix"}).json()["matrix_notation"] == \
        "∂q/∂x = (A + Aᵀ) x"
    error = client.post("/api/derive", json={**payload, "notation": "index"}).json()["error"]
    assert "write a transpose by swapping indices" in error["message"], error


def test_symmetric_variables_give_the_symmetric_derivative_and_check(client):
    payload = {"formula": "q = x'*S*x", "wrt": "x", "shapes": {"x": "3", "S": "3x3"}, "symmetric": ["S"]}
    answer = client.post("/api/derive", json=payload).json()
    assert answer["derivative_text"] == "∂q/∂x[a] = 2 S[a,i] x[i]" and answer["matrix_notation"] == "∂q/∂x = 2 S x"
    assert client.post("/api/derive", json={**payload, "order": 2}).json()["matrix_notation"] == "∂²q/∂x² = 2 S"
    by_s = client.post("/api/check", json={**payload, "wrt": "S"}).json()
    assert by_s["ok"] is True, by_s
    given = client.post("/api/derive", json={**payload, "values": {"S": "[[1,2,0],[2,1,0],[0,0,1]]", "x": "[1,0,0]"}})
    assert given.json()["matrix"] == [[2, 4, 0]]
    unsymmetric = client.post("/api/derive", json={**payload, "values": {"S": "[[1,2,0],[0,1,0],[0,0,1]]"}}).json()
    assert "variable 'S' is symmetric but the bound array is not" in unsymmetric["error"]["message"], unsymmetric


def test_a_gradient_by_a_matrix_is_shown_in_its_shape(client):
    # As explain shows it: ∂L/∂X of a scalar L has X's shape (3×3), not a 1×9 row.
    payload = {"formula": "L = A[i,j]*X[i,j] + b", "wrt": "X", "shapes": {"A": "3x3", "X": "3x3", "b": ""},
               "values": {"A": "[[1,2,3],[4,5,6],[7,8,9]]"}}
    answer = client.post("/api/derive", json=payload).json()
    assert answer["matrix"] == [[1, 2, 3], [4, 5, 6], [7, 8, 9]] and answer["matrix_shape"] == [3, 3]
    assert answer["layout"] == "∂L/∂X in the shape of X, 3×3 (a 1×9 row when flattened row by row)"
    assert answer["shape"] == "(1)×(3×3)"
    hessian = client.post("/api/derive", json={**payload, "formula": "L = X[i,j]*A[j,k]*X[i,k]", "order": 2}).json()
    assert hessian["matrix_shape"] == [9, 9] and hessian["layout"] == "a 9×9 matrix when flattened row by row"
    by_vector = client.post("/api/derive", json={"formula": "L = x[i]*x[i]", "wrt": "x", "shapes": {"x": "3"}}).json()
    assert by_vector["matrix_shape"] == [1, 3] and by_vector["layout"] == "a 1×3 row when flattened row by row"


def test_an_empty_shape_is_a_scalar(client):
    answer = client.post("/api/derive", json={"formula": "y[i] = x[i]*c", "wrt": "c", "shapes": {"x": "3", "c": ""},
                                              "values": {"x": "[1,2,3]"}})
    assert answer.status_code == 200 and answer.json()["matrix"] == [[1], [2], [3]]


def test_the_share_decision_does_not_write_out_a_deep_derivative(monkeypatch):
    # Nine nested layers: written out, the Hessian is 111,683 characters; the page shows it with
    # names (t1, t2, ...), and deciding so must not write it out first (exponential in depth).
    from einsdiff.frontends import session
    from einsdiff.frontends.web import service

    monkeypatch.setattr(session, "derivation", lambda *args, **kwargs: "")  # explain is not under test
    longest = []

    def line(*args, **kwargs):
        out = real(*args, **kwargs)
        longest.append(len(out))
        return out

    real = session.line
    monkeypatch.setattr(session, "line", line)
    answer = service.derive(SLOW, Limits())
    assert answer["typeset_note"].startswith("t1, …, t40 name subexpressions")
    assert max(longest) < 20_000, max(longest)  # written out: 111,683


def test_check_numerically(client):
    answer = client.post("/api/check", json=SEED_001).json()
    assert answer["ok"] is True and answer["entries"] == 24 and answer["max_error"] < 1e-8, answer


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["title"])
def test_every_example_derives_and_checks(client, example):
    derived = client.post("/api/derive", json=example)
    assert derived.status_code == 200, derived.json()
    assert derived.json()["matrix"] is not None
    checked = client.post("/api/check", json=example).json()
    assert checked["ok"] is True, checked


@pytest.mark.parametrize(
    "payload, message, position",
    [
        ({"formula": "Z[i,j] = A[i,k]*W[k,j + B[j]"}, "expected ']', found '+'", 22),
        ({"formula": "relu(W[i,j]*x[j]) +"}, "expected a number, a variable, a function or '('", 19),
        ({"formula": "A[i,j]*x[j]", "wrt": "x", "shapes": {"A": "2x3"}}, "unknown variable 'x'", 7),
        ({"formula": "A[i,j]*x[j]", "wrt": "x", "shapes": {"A": "2x3", "x": "4"}}, "index 'j' has sizes 3 and 4", 0),
    ],
)
def test_bad_formulas_mark_their_position(client, payload, message, position):
    for action in ("inspect", "derive") if "wrt" not in payload else ("derive",):
        response = client.post(f"/api/{action}", json=payload)
        assert response.status_code == 400
        error = response.json()["error"]
        assert message in error["message"] and error["position"] == position, error
        assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "payload, message",
    [
        ({**SEED_001, "shapes": {"A": "2x300", "W": "300x2", "B": "2"}}, "A has shape 2×300; the playground takes axes up to 64"),
        ({"formula": "y = T[i,j,k]*T[i,j,k]", "wrt": "T", "shapes": {"T": "20x20x20"}},
         "T has shape 20×20×20; the playground takes axes up to 64 and up to 4,096 entries per variable"),
        ({**SEED_001, "shapes": {"A": "2by3", "W": "3x2", "B": "2"}}, "the shape of A: '2by3' is not a shape"),
        ({**SEED_001, "values": {"A": "[1, 2]"}},
         "values for A: expected a 2×3 nested list of numbers, like [[1,2,3],[4,5,6]]; got a list of 2 numbers"),
        ({**SEED_001, "values": {"A": "[[1, 2"}}, "values for A: not valid JSON (expecting ',' delimiter at character 7); "
                                                  "expected a 2×3 nested list of numbers"),
        ({**SEED_001, "values": {"A": "[[1,2,3],[4,5]]"}},
         "values for A: expected a 2×3 nested list of numbers, like [[1,2,3],[4,5,6]]; "
         "got a list of 2 numbers at [1], where [0] is a list of 3 numbers"),
        ({**SEED_001, "values": {"A": '[[1,2,3],[4,5,"6"]]'}}, 'got "6" at [1][2], where a number goes'),
        ({**SEED_001, "values": {"A": "[[1,2,3],[4,5,null]]"}}, "got null at [1][2], where a number goes"),
        ({**SEED_001, "values": {"B": "7"}}, "values for B: expected a list of 2 numbers, like [1,2]; got a number"),
        ({**SEED_001, "shapes": {"A": "", "W": "3x2", "B": "2"}},
         "the shape of A is empty, which means a scalar, but the formula writes A[i,k] with 2 indices: "
         "give 2 sizes, e.g. 3x4"),
        ({**SEED_001, "shapes": {"A": "2x3", "W": "3x2"}}, "unknown variable 'B': give its shape (1 size, e.g. 3)"),
        ({**SEED_001, "order": 3}, "order 3: the playground gives the first (1) or second (2) derivative"),
        ({**SEED_001, "wrt": "Q"}, "'Q' is not a variable of the formula; it has A, B, W"),
        ({**SEED_001, "formula": "x" * 501}, "the formula has 501 characters; the playground takes up to 500"),
        ({"formula": "  "}, "type a formula"),
        ({**SEED_001, "seed": "one"}, "the request needs 'seed' as int"),
        ({**SEED_001, "notation": "latex"}, "notation 'latex': choose one of auto, index, matrix"),
        ({**SEED_001, "symmetric": "W"}, "the request needs 'symmetric' as list"),
        ({**SEED_001, "symmetric": [3]}, "the request needs 'symmetric' as a list of variable names, got 3 in it"),
        ({**SEED_001, "symmetric": ["A"]}, "A is ticked symmetric but has shape 2×3; a symmetric matrix is square"),
        ({**SEED_001, "symmetric": ["Q"]}, "Q is ticked symmetric but has no shape"),
    ],
)
def test_oversize_and_malformed_requests_get_clear_messages(client, payload, message):
    response = client.post("/api/derive", json=payload)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"], response.json()


def test_a_long_derivative_names_what_it_repeats(client):
    # Nine nested layers: written out, the Hessian is 111,683 characters; its DAG has 127 nodes.
    answer = client.post("/api/derive", json=SLOW).json()
    lines = answer["derivative_text"].splitlines()
    assert lines[:2] == ["t1[i] = tanh(A[i,t] x[t])", "t2[i] = 1 - square(t1[i])"] and len(lines) == 41
    assert lines[-1].startswith("∂²L/∂A[a,b] ∂A[c,d] = ")
    assert answer["typeset_note"] == "t1, …, t40 name subexpressions the derivative would otherwise repeat"
    assert answer["derivative_mathml"].count("<mtr>") == 41
    # The derivation names what it would write again too, so it comes whole, in tens of kilobytes.
    assert answer["steps"][-1].startswith("result: ∂g_L[a,b]/∂A[c,d] = ")
    assert sum(map(len, answer["steps"])) < 50_000
    short = client.post("/api/derive", json=SEED_001).json()
    assert short["typeset_note"] == "" and "\n" not in short["derivative_text"]


def test_a_derivative_too_long_to_typeset_comes_as_text():
    # The time limit of the module's client: explaining this Hessian takes seconds on a busy machine.
    with TestClient(create_app(Limits(typeset_chars=1000, seconds=20))) as c:
        answer = c.post("/api/derive", json=SLOW).json()
    assert answer["derivative_mathml"] is None and answer["formula_mathml"].startswith("<math")
    assert answer["typeset_note"].endswith("characters in index notation: too long to typeset (up to 1,000), "
                                           "so shown as text")


def test_undefined_entries_travel_as_text(client):
    # JSON has no nan: sqrt'(x) at x = -1 (nan) and 0 (inf) still gives a table, with a note.
    payload = {"formula": "f[i] = sqrt(x[i])", "wrt": "x", "shapes": {"x": "3"}, "values": {"x": "[-1, 0, 4]"}}
    answer = client.post("/api/derive", json=payload)
    assert answer.status_code == 200, answer.text
    assert answer.json()["matrix"] == [["nan", 0, 0], [0, "inf", 0], [0, 0, 0.25]]
    assert "nan and inf mark entries" in answer.json()["matrix_note"]
    bad = client.post("/api/derive", json={**payload, "values": {"x": [1, 2, 3]}})
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "values for x: send them as JSON text, like '[1,2,3]'; got [1, 2, 3]"


def test_a_huge_derivative_is_shown_but_not_tabulated(client):
    payload = {"formula": "y[i,j] = tanh(A[i,k]*B[k,j])", "wrt": "B", "shapes": {"A": "64x64", "B": "64x64"}}
    answer = client.post("/api/derive", json=payload).json()
    assert answer["matrix"] is None and "too many for a table" in answer["matrix_note"]
    assert answer["matrix_shape"] == [4096, 4096]
    typo = client.post("/api/derive", json={**payload, "values": {"A": "[1, 2]"}})  # reported, though not tabulated
    assert typo.status_code == 400 and typo.json()["error"]["message"].startswith(
        "values for A: expected a 64×64 nested list of numbers, like [[1,2,3,…],[65,66,67,…],[129,130,131,…],…]; got")
    checked = client.post("/api/check", json=payload)
    assert checked.status_code == 400 and "the playground checks up to" in checked.json()["error"]["message"]


def test_bodies_and_unknown_routes(client):
    big = client.post("/api/derive", content=b"{" + b" " * 200_000 + b"}", headers={"content-type": "application/json"})
    assert big.status_code == 413 and "larger than" in big.json()["error"]["message"]
    assert client.post("/api/derive", content=b"[1, 2]").json()["error"]["message"] == "the request body must be a JSON object"
    assert client.post("/api/derive", content=b"{nope").status_code == 400
    assert client.post("/api/compile", json={}).status_code == 404
    missing = client.get("/static/nothing.js")
    assert missing.status_code == 404 and "error" in missing.json()
    assert client.get("/api/examples").json()["examples"][0]["formula"] == "L = (A*x - y)'*(A*x - y)"
    page = client.get("/")
    assert page.status_code == 200 and 'id="formula"' in page.text
    assert client.get("/static/app.js").status_code == 200


def test_a_slow_request_is_stopped_and_the_server_keeps_serving():
    # A stand-in that stays slow however fast derivations get (tests/test_web_load.py).
    with TestClient(create_app(Limits(seconds=0.5), handlers="test_web_load:HANDLERS")) as c:
        started = time.perf_counter()
        slow = c.post("/api/derive", json={"sleep": 5})
        assert time.perf_counter() - started < 30
        assert slow.status_code == 400
        assert "stopped after 0.5 s: this request takes too long" in slow.json()["error"]["message"]
        again = c.post("/api/derive", json=SEED_001)  # a fresh worker answers the next request
        assert again.status_code == 200 and again.json()["matrix"] == JACOBIAN_001


def test_a_crashed_worker_is_replaced(client):
    for worker in client.app.state.pool.workers:
        worker._process.kill()  # as the kernel would, out of memory
        worker._process.join()
    answer = client.post("/api/derive", json=SEED_001)
    assert answer.status_code == 200 and answer.json()["matrix"] == JACOBIAN_001


def test_serve_binds_to_localhost_by_default(monkeypatch):
    import einsdiff.frontends.web.app as web_app

    calls, probed = [], []
    monkeypatch.setattr(web_app, "serve", lambda host, port, workers: calls.append((host, port, workers)))
    # The free-port probe, recorded instead of run: port 8000 may be taken on a test machine.
    monkeypatch.setattr(socket, "create_server", lambda address: probed.append(address) or contextlib.nullcontext())
    assert main(["serve"]) == 0
    assert main(["serve", "--port", "8123", "--workers", "3"]) == 0
    assert probed == [("127.0.0.1", 8000), ("127.0.0.1", 8123)]
    assert calls == [("127.0.0.1", 8000, None), ("127.0.0.1", 8123, 3)]  # None: one worker per core


def test_serve_workers_default_to_one_per_core(capsys):
    assert len(create_app().state.pool.workers) == os.cpu_count()
    assert len(create_app(workers=3).state.pool.workers) == 3
    with pytest.raises(EinsdiffError, match="workers=0: a pool needs at least 1 worker"):
        create_app(workers=0)
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers 0: give at least 1" in capsys.readouterr().err


def test_serve_on_a_taken_port_says_so(capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_serve_without_the_extra_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "starlette", None)  # as if it were not installed
    assert main(["serve"]) == 2
    assert "pip install 'einsdiff[web]'" in capsys.readouterr().err


# --- the page, in a real browser --------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "einsdiff", "serve", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            break
        if process.poll() is not None:
            pytest.fail(f"einsdiff serve exited: {process.stdout.read()}")
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("einsdiff serve did not start listening within 60 s")
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("no chromium and chromedriver on this machine (Debian: apt install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must not download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1200,2200"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


def test_page_end_to_end(browser, server):  # the browser first: without one, no server starts
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(server)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")

    # A typo: the message appears under the formula with its column marked.
    browser.find_element(By.ID, "formula").send_keys("Z[i,j] = A[i,k]*W[k,j + B[j]")
    wait.until(until.visibility_of_element_located((By.ID, "formula-error")))
    assert "expected ']'" in browser.find_element(By.ID, "formula-message").text
    assert browser.find_element(By.ID, "formula-mark").text.splitlines()[-1] == " " * 22 + "^"

    # Seed 001, typed as a learner would.
    formula = browser.find_element(By.ID, "formula")
    formula.clear()
    formula.send_keys(SEED_001["formula"])
    wait.until(until.visibility_of_element_located((By.ID, "shape-B")))
    assert not browser.find_element(By.ID, "formula-error").is_displayed()
    for name, shape in SEED_001["shapes"].items():
        browser.find_element(By.ID, f"shape-{name}").send_keys(shape)
    browser.find_element(By.ID, "value-A").send_keys(SEED_001["values"]["A"])
    Select(browser.find_element(By.ID, "wrt")).select_by_value("W")
    browser.find_element(By.ID, "derive").click()
    wait.until(until.visibility_of_element_located((By.ID, "result")))

    derivative = browser.find_element(By.CSS_SELECTOR, "#derivative-math math")
    assert derivative.size["height"] > 20 and derivative.size["width"] > 100  # MathML laid out as math
    assert derivative.text.replace("\n", "").replace(" ", "").startswith("∂Z")
    assert "δ" in derivative.text
    assert browser.find_element(By.ID, "shape").text == "(2×2)×(3×2)"
    assert browser.find_element(By.ID, "layout").text == "a 4×6 matrix when flattened row by row"
    rows = browser.find_elements(By.CSS_SELECTOR, "#matrix tr")
    table = [[int(td.text) for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]
    assert table == JACOBIAN_001
    steps = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#steps li")]
    assert "result: ∂Z[i,j]/∂W[a,b] = δ[j,b] A[i,a]" in steps
    assert 'np.einsum("ijkj->jik", t0)[...] = A' in browser.find_element(By.ID, "einsum").text
    assert "def Z(" in browser.find_element(By.ID, "numpy").text

    browser.find_element(By.ID, "check").click()
    wait.until(lambda d: d.find_element(By.ID, "check-result").text not in ("", "checking…"))
    checked = browser.find_element(By.ID, "check-result").text
    assert checked.startswith("max error ") and checked.endswith("over 24 entries (values up to 1.363): ok"), checked

    browser.find_element(By.ID, "copy").click()  # the clipboard, or a selection where it is not allowed
    wait.until(lambda d: d.find_element(By.ID, "copied").text in ("copied", "selected: press Ctrl+C"))
    assert browser.find_element(By.ID, "latex").text.startswith(r"\frac{\partial Z_{ij}}{\partial W_{ab}}")
    browser.find_element(By.ID, "copy-latex").click()
    wait.until(lambda d: d.find_element(By.ID, "copied-latex").text in ("copied", "selected: press Ctrl+C"))

    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "playground-seed-001.png"))

    # An oversize shape: a clear message, and the page keeps working.
    shape_a = browser.find_element(By.ID, "shape-A")
    shape_a.clear()
    shape_a.send_keys("2x300")
    browser.find_element(By.ID, "derive").click()
    wait.until(until.visibility_of_element_located((By.ID, "error")))
    assert "A has shape 2×300" in browser.find_element(By.ID, "error").text

    # The examples menu fills everything in and derives.
    Select(browser.find_element(By.ID, "examples")).select_by_index(1)  # the first: matrix notation
    wait.until(lambda d: "∂L" in d.find_element(By.ID, "derivative-math").text.replace("\n", ""))
    assert browser.find_element(By.ID, "layout").text == "a 1×3 row when flattened row by row"
    assert browser.find_element(By.ID, "matrix-notation").get_attribute("title") == "∂L/∂x = 2 Aᵀ (A x − y)"
    assert not browser.find_element(By.ID, "error").is_displayed()
    # The matrix form is the headline, the formula's and the derivative's, index notation below it.
    headline, index = browser.find_element(By.ID, "matrix-notation"), browser.find_element(By.ID, "derivative-math")
    assert browser.find_element(By.ID, "formula-matrix-notation").get_attribute("title").startswith("L = ")
    assert headline.find_elements(By.TAG_NAME, "math")  # typeset, as index notation is
    assert headline.is_displayed() and headline.location["y"] < index.location["y"]
    assert float(headline.value_of_css_property("font-size")[:-2]) > float(index.value_of_css_property("font-size")[:-2])
    # A square matrix may be ticked symmetric; the example with S symmetric ticks it.
    assert not browser.find_element(By.ID, "symmetric-A").is_displayed()  # A is 4×3
    _load_example(browser, wait, "a quadratic form ½xᵀSx")
    assert browser.find_element(By.ID, "symmetric-S").is_selected()
    assert not browser.find_element(By.ID, "symmetric-label-x").is_displayed()
    assert browser.find_element(By.ID, "matrix-notation").get_attribute("title") == "∂q/∂x = S x − b"
    browser.find_element(By.ID, "symmetric-S").click()  # unticked: S and Sᵀ both appear
    browser.find_element(By.ID, "derive").click()
    wait.until(lambda d: "Sᵀ" in d.find_element(By.ID, "matrix-notation").get_attribute("title"))
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "playground-symmetric.png"))


def _load_example(browser, wait, title_start: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    index = 1 + next(k for k, e in enumerate(EXAMPLES) if e["title"].startswith(title_start))
    result = browser.find_element(By.ID, "result")
    before = result.get_attribute("data-derivation")
    Select(browser.find_element(By.ID, "examples")).select_by_index(index)
    wait.until(lambda d: result.get_attribute("data-derivation") != before
               and result.get_attribute("data-state") == "current" and result.is_displayed())


def test_page_says_what_is_current(browser, server):
    """Work in progress, out-of-date and failed results, the examples menu, placeholders."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(server)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    _load_example(browser, wait, "a relu neuron")
    result, examples = browser.find_element(By.ID, "result"), browser.find_element(By.ID, "examples")
    assert examples.get_attribute("value") == str(next(k for k, e in enumerate(EXAMPLES) if e["title"] == "a relu neuron"))
    # Placeholders say what an empty field means: a scalar (b), random values; w needs sizes.
    assert browser.find_element(By.ID, "shape-b").get_attribute("placeholder") == "scalar"
    assert browser.find_element(By.ID, "shape-w").get_attribute("placeholder") == "e.g. 3"
    assert browser.find_element(By.ID, "value-w").get_attribute("placeholder") == "random"

    # Editing the formula: the menu is back to its title, the result is marked out of date.
    browser.find_element(By.ID, "formula").send_keys(" + 1")
    wait.until(lambda d: result.get_attribute("data-state") == "stale")
    assert examples.get_attribute("value") == ""
    assert browser.find_element(By.ID, "result-status").text.startswith("out of date")
    assert float(result.find_element(By.TAG_NAME, "h2").value_of_css_property("opacity")) < 1

    # A slow answer (the page's requests held back 1.5 s): "working…", the old result dimmed.
    browser.execute_script("""
        window.realFetch = window.fetch;
        window.fetch = (...args) => new Promise((ok) => setTimeout(ok, 1500)).then(() => window.realFetch(...args));""")
    browser.find_element(By.ID, "derive").click()
    assert result.get_attribute("data-state") == "working"
    assert browser.find_element(By.ID, "status").text.startswith("working…")
    assert not browser.find_element(By.ID, "derive").is_enabled()
    wait.until(lambda d: result.get_attribute("data-state") == "current")
    assert browser.find_element(By.ID, "status").text == "" and browser.find_element(By.ID, "derive").is_enabled()
    assert browser.find_element(By.ID, "formula-math").text.replace("\n", "").replace(" ", "").endswith("+1")
    # An edit while a request is out: its answer arrives already out of date.
    before = result.get_attribute("data-derivation")
    browser.find_element(By.ID, "derive").click()
    browser.find_element(By.ID, "shape-b").send_keys(" ")
    wait.until(lambda d: result.get_attribute("data-derivation") != before and d.find_element(By.ID, "derive").is_enabled())
    assert result.get_attribute("data-state") == "stale"
    browser.execute_script("window.fetch = window.realFetch;")

    # An error clears the result it would otherwise sit above; the message names the variable.
    browser.find_element(By.ID, "value-w").send_keys("[1, 2")
    browser.find_element(By.ID, "derive").click()
    wait.until(until.visibility_of_element_located((By.ID, "error")))
    assert browser.find_element(By.ID, "error").text.startswith("values for w: not valid JSON (")
    assert not result.is_displayed()
    browser.find_element(By.ID, "value-w").clear()  # the table is rebuilt on each derive: find anew
    browser.find_element(By.ID, "shape-w").clear()  # empty: a scalar, which w[i] cannot be
    browser.find_element(By.ID, "derive").click()
    wait.until(lambda d: d.find_element(By.ID, "error").text.startswith("the shape of w is empty"))
    assert not result.is_displayed()

    # The gradient of a scalar by a 3×3 matrix, in the matrix's shape.
    formula = browser.find_element(By.ID, "formula")
    formula.clear()
    formula.send_keys("L = A[i,j]*X[i,j]")
    wait.until(until.visibility_of_element_located((By.ID, "shape-X")))
    for name in "AX":
        browser.find_element(By.ID, f"shape-{name}").send_keys("3x3")
    browser.find_element(By.ID, "value-A").send_keys("[[1,2,3],[4,5,6],[7,8,9]]")
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "wrt")).select_by_value("X")
    browser.find_element(By.ID, "derive").click()
    wait.until(lambda d: result.is_displayed() and result.get_attribute("data-state") == "current")
    rows = browser.find_elements(By.CSS_SELECTOR, "#matrix tr")
    assert [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows] == [
        ["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"]]
    assert browser.find_element(By.ID, "matrix-notation").get_attribute("title") == "∂L/∂X = A"  # the headline
    assert browser.find_element(By.ID, "layout").text.startswith("∂L/∂X in the shape of X, 3×3")
    assert not browser.find_element(By.ID, "error").is_displayed()

    # A tensor of three axes has no matrix form: index notation leads alone.
    formula.clear()
    formula.send_keys("f = T[i,j,k]*x[i]*x[j]*x[k]")
    wait.until(until.visibility_of_element_located((By.ID, "shape-T")))
    browser.find_element(By.ID, "shape-T").send_keys("2x2x2")
    browser.find_element(By.ID, "shape-x").send_keys("2")
    Select(browser.find_element(By.ID, "wrt")).select_by_value("x")
    before = result.get_attribute("data-derivation")
    browser.find_element(By.ID, "derive").click()
    wait.until(lambda d: result.get_attribute("data-derivation") != before and result.get_attribute("data-state") == "current")
    assert not browser.find_element(By.ID, "matrix-notation-line").is_displayed()
    assert browser.find_element(By.ID, "derivative-math").is_displayed()


def test_page_fits_a_phone(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # Headless Chromium's window is at least 500 px wide: emulate a 420 px screen instead.
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 420, "height": 1400, "deviceScaleFactor": 1, "mobile": False})
    try:
        wait = WebDriverWait(browser, 30)
        browser.get(server)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
        _load_example(browser, wait, "the MSE loss")
        width = browser.execute_script("return window.innerWidth")
        assert width == 420
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width  # no sideways scroll
        table = browser.find_element(By.ID, "variables")
        right = table.location["x"] + table.size["width"]
        assert right <= width
        for row in table.find_elements(By.CSS_SELECTOR, "tbody tr"):  # one line a variable, inputs in the table
            name, shape, values = row.find_elements(By.CSS_SELECTOR, "th, td")
            assert name.location["y"] == shape.location["y"] == values.location["y"]
            for cell in (shape, values):
                box = cell.find_element(By.TAG_NAME, "input")
                assert box.size["width"] >= 70 and box.location["x"] + box.size["width"] <= right
        assert browser.find_element(By.CSS_SELECTOR, "#variables thead th:last-child").size["height"] < 30  # one line
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "playground-420px.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
