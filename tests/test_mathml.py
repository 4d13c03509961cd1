"""ed.to_mathml: well-formed MathML Core that says what the LaTeX form says."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings

import einsdiff as ed
from einsdiff.testing import expressions
from einsdiff.ir.variables import variables

NS = "{http://www.w3.org/1998/Math/MathML}"
TOKENS = {"mi", "mn", "mo", "mtext"}
LAYOUT = {"math": None, "mrow": None, "mtable": None, "mtr": None, "mtd": None, "msqrt": None, "msub": 2, "msup": 2, "mfrac": 2, "munder": 2, "mspace": 0}

X, b = ed.var("X", (3, 3)), ed.var("b", (3,))
A, x = ed.var("A", (2, 3)), ed.var("x", (3,))


def structure_problems(markup: str) -> list[str]:
    """What makes ``markup`` not MathML Core as we write it: unknown elements, text outside
    token elements, elements inside tokens, scripts with the wrong number of children."""
    root = ET.fromstring(markup)
    problems = []
    for node in root.iter():
        tag = node.tag.removeprefix(NS)
        if tag in TOKENS:
            if len(node) or not (node.text or "").strip():
                problems.append(f"<{tag}> must hold text only: {ET.tostring(node, encoding='unicode')}")
        elif tag not in LAYOUT:
            problems.append(f"<{tag}> is not an element we emit")
        else:
            if (node.text or "").strip():
                problems.append(f"bare text {node.text!r} inside <{tag}>")
            if LAYOUT[tag] is not None and len(node) != LAYOUT[tag]:
                problems.append(f"<{tag}> has {len(node)} children, needs {LAYOUT[tag]}")
        if (node.tail or "").strip() and node is not root:
            problems.append(f"bare text {node.tail!r} after <{tag}>")
    return problems


def tokens(markup: str, tag: str) -> list[str]:
    return [node.text for node in ET.fromstring(markup).iter(NS + tag)]


def references(markup: str) -> list[str]:
    """The identifiers that are not index names (those sit under a subscript or a sum sign,
    or before the legend's ∈)."""
    root = ET.fromstring(markup)
    indices = {id(mi) for node in root.iter() if node.tag in (NS + "msub", NS + "munder")
               for mi in node[1].iter(NS + "mi")}
    indices |= {id(a) for node in root.iter() for a, b in zip(node, node[1:]) if b.text == "∈"}
    return [mi.text for mi in root.iter(NS + "mi") if id(mi) not in indices]


@pytest.mark.parametrize(
    "expr, expected",
    [
        (A @ x, "<msub><mi>A</mi><mrow><mi>i</mi><mi>j</mi></mrow></msub><msub><mi>x</mi><mrow><mi>j</mi></mrow></msub>"),
        (ed.jacobian(A @ x, A), "<msub><mi>δ</mi><mrow><mi>i</mi><mi>j</mi></mrow></msub>"),
        (ed.sum(x), '<munder><mo movablelimits="false">∑</mo><mrow><mi>i</mi></mrow></munder>'),
        (ed.sqrt(x), "<msqrt><msub><mi>x</mi>"),
        (1 / x, "<mfrac><mn>1</mn><mrow><msub><mi>x</mi>"),
        (ed.inv(X), "<msup><mrow><mi>X</mi></mrow><mrow><mo>−</mo><mn>1</mn></mrow></msup>"),
        (ed.solve(X, b), "<msup><mrow><mi>X</mi></mrow><mrow><mo>−</mo><mn>1</mn></mrow></msup><mrow><mi>b</mi></mrow>"),
        (ed.sigmoid(x), "<mi>σ</mi><mo>&#x2061;</mo><mrow><mo>(</mo><msub><mi>x</mi>"),
        (x - 2 * ed.tanh(x), "<mo>−</mo><mn>2</mn><mi>tanh</mi>"),
        (ed.logdet(X), "<mi>log</mi><mo>&#x2061;</mo><mi>det</mi>"),
        (ed.reshape(X, (9,)), "<msub><mrow><mo>[</mo><msub><mi>reshape</mi><mrow><mrow><mi>j</mi><mi>k</mi></mrow><mo>→</mo>"
                              "<mtext>(9,)</mtext></mrow></msub>"),
        (ed.reshape(X, (9,)), "<mo>]</mo></mrow><mrow><mi>i</mi></mrow></msub>"),  # the result's own index
        (ed.maximum(x, 0.0), "<mi>max</mi><mo>&#x2061;</mo><mrow><mo>(</mo><msub><mi>x</mi>"),
        (ed.minimum(x, b), "<mi>min</mi><mo>&#x2061;</mo>"),
        (ed.einsum("ij,j->i", np.ones((3, 3)), b),
         '<mo separator="true">,</mo><mspace width="0.5em"/><mi>C0</mi><mtext>&#xA0;a constant of shape (3, 3)</mtext>'),
    ],
)
def test_renders(expr, expected):
    markup = ed.to_mathml(expr)
    assert expected in markup, markup
    assert structure_problems(markup) == []


def test_whole_element_and_options():
    markup = ed.to_mathml(ed.jacobian(A @ x, x), name="J", indices=("i", "a"), display="inline")
    assert markup.startswith('<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">')
    assert markup.endswith("</math>")
    assert tokens(markup, "mi") == ["J", "i", "a", "A", "i", "a"]
    with pytest.raises(ed.OptionError, match="display='wide'"):
        ed.to_mathml(A @ x, display="wide")
    with pytest.raises(ed.OperandError, match="indices"):
        ed.to_mathml(A @ x, indices="ij")
    with pytest.raises(ed.OperandError, match="to_mathml needs an einsdiff expression"):
        ed.to_mathml("A @ x")


def test_legend_sizes_what_no_tensor_shows():
    J = ed.jacobian(A @ x, A)  # i and a only on a delta: the legend gives their size
    markup = ed.to_mathml(J)
    assert "<mo>∈</mo><mn>1</mn><mo>..</mo><mn>2</mn>" in markup
    assert structure_problems(markup) == []


def test_signs_and_brackets_are_not_doubled():
    # A sum under a square root needs no brackets of its own; only tanh's argument has them.
    markup = ed.to_mathml(ed.sqrt(x + 1.0) - (x + ed.tanh(x)))
    assert structure_problems(markup) == []
    assert "<msqrt><msub><mi>x</mi><mrow><mi>i</mi></mrow></msub><mo>+</mo><mn>1</mn></msqrt><mo>−</mo>" in markup
    assert markup.count("<mo>(</mo>") == markup.count("<mo>)</mo>") == 1
    # 2 (a - b): a scaled sum as a factor keeps its brackets.
    scaled = ed.to_mathml(2 * x - 2 * ed.tanh(x))
    assert "<mn>2</mn><mo>(</mo><msub><mi>x</mi>" in scaled, scaled


@settings(max_examples=120)
@given(expressions(functions=True, max_depth=3))
def test_random_expressions_and_their_jacobians(expr):
    """Every expression and its Jacobian: MathML Core, every variable reference, delta, sum
    and fraction of the LaTeX form, nothing more."""
    wrt = variables(expr)[0]
    for e in (expr, ed.jacobian(expr, wrt)):
        assert structure_problems(ed.to_mathml(e, share=True)) == []
        markup, latex, text = ed.to_mathml(e), ed.to_latex(e), ed.to_index_notation(e)
        assert structure_problems(markup) == [], f"{text}\n{markup}"
        named = references(markup)
        # The text form without its index lists [i,j] and its legend's sizes (i:2): only references.
        refs = re.sub(r"\b\w+:\d+", "", re.sub(r"\[[^\[\]]*\]", "", text))
        for v in variables(e):
            assert named.count(v.name) == len(re.findall(rf"\b{v.name}\b", refs)), f"{v.name} in {text}\n{markup}"
        assert named.count("δ") == latex.count(r"\delta"), f"{latex}\n{markup}"
        assert tokens(markup, "mo").count("∑") == latex.count(r"\sum"), f"{latex}\n{markup}"
        assert markup.count("<mfrac>") == latex.count(r"\frac"), f"{latex}\n{markup}"
