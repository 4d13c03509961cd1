// The playground page: asks the server (einsdiff.frontends.web.app) and shows its answers.
// Only the server's MathML goes in as markup; everything else is set as text.
"use strict";

const $ = (id) => document.getElementById(id);
let examples = [];
let inspected = null; // the last formula the server read: {name, indices, variables}
let inspectTimer = null;
let derivations = 0; // numbers each derive request: only the latest one's answer is shown
let editedMeanwhile = false; // the inputs changed while a derive request was out

async function ask(action, payload) {
  const response = await fetch(`/api/${action}`, {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(payload),
  });
  let answer;
  try {
    answer = await response.json();
  } catch (err) {
    answer = {error: {message: `the server answered ${response.status} without a result`, position: null}};
  }
  return answer;
}

function showError(error) {
  const formulaError = $("formula-error");
  const general = $("error");
  formulaError.hidden = general.hidden = true;
  if (!error) return;
  if (error.position !== null && error.position !== undefined) {
    const formula = $("formula").value;
    $("formula-mark").textContent = `${formula}\n${" ".repeat(error.position)}^`;
    $("formula-message").textContent = `${error.message} (at character ${error.position + 1})`;
    formulaError.hidden = false;
  } else {
    general.textContent = error.message;
    general.hidden = false;
  }
}

function request() {
  const shapes = {}, values = {}, symmetric = [];
  for (const v of inspected ? inspected.variables : []) {
    shapes[v.name] = $(`shape-${v.name}`).value.trim(); // empty: a scalar (the server says if it cannot be)
    const value = $(`value-${v.name}`).value.trim();
    if (value) values[v.name] = value;
    if (isSquare(shapes[v.name]) && $(`symmetric-${v.name}`).checked) symmetric.push(v.name);
  }
  const order = Number(document.querySelector('input[name="order"]:checked').value);
  return {formula: $("formula").value, notation: $("notation").value, wrt: $("wrt").value, order, shapes, values,
          symmetric};
}

// A shape n×n (3x3, 3×3, 3,3): only a square matrix can be symmetric.
function isSquare(shape) {
  const match = /^\(?\s*(\d+)\s*[x×,]\s*(\d+)\s*\)?$/.exec(shape.trim());
  return match !== null && match[1] === match[2];
}

// The symmetric box shows beside a square shape only.
function showSymmetric(name) {
  $(`symmetric-label-${name}`).hidden = !isSquare($(`shape-${name}`).value);
}

// Reads the formula's variables into the table; false when the formula has an error (shown).
async function inspect() {
  const formula = $("formula").value;
  if (!formula.trim()) return true; // nothing to read: derive says what to type
  const answer = await ask("inspect", {formula, notation: $("notation").value});
  if (formula !== $("formula").value) return true; // typed on meanwhile: a newer request follows
  if (answer.error) {
    showError(answer.error);
    return false;
  }
  showError(null);
  setVariables(answer);
  return true;
}

function setVariables(answer) {
  const old = {};
  for (const v of inspected ? inspected.variables : []) {
    old[v.name] = {shape: $(`shape-${v.name}`).value, value: $(`value-${v.name}`).value,
                   symmetric: $(`symmetric-${v.name}`).checked};
  }
  const wrt = $("wrt").value;
  inspected = answer;
  const body = $("variables").querySelector("tbody");
  body.replaceChildren();
  $("wrt").replaceChildren();
  for (const v of answer.variables) {
    const row = document.createElement("tr");
    const name = document.createElement("th");
    name.textContent = v.letters.length ? `${v.name}[${v.letters.join(",")}]` : v.name;
    const shape = document.createElement("input");
    shape.id = `shape-${v.name}`;
    // A placeholder is not a value: empty means a scalar, which an indexed variable cannot be.
    shape.placeholder = v.letters.length ? `e.g. ${[3, 4, 5, 6, 3, 3, 3, 3].slice(0, v.letters.length).join("x")}` : "scalar";
    shape.value = old[v.name] ? old[v.name].shape : "";
    shape.setAttribute("aria-label", `shape of ${v.name}`);
    const value = document.createElement("input");
    value.id = `value-${v.name}`;
    value.placeholder = "random";
    value.value = old[v.name] ? old[v.name].value : "";
    value.setAttribute("aria-label", `values of ${v.name}`);
    const symmetric = document.createElement("input");
    symmetric.type = "checkbox";
    symmetric.id = `symmetric-${v.name}`;
    symmetric.checked = old[v.name] ? old[v.name].symmetric : false;
    symmetric.addEventListener("change", markStale);
    const box = document.createElement("label");
    box.id = `symmetric-label-${v.name}`;
    box.className = "symmetric";
    box.append(symmetric, " symmetric");
    for (const input of [shape, value]) {
      input.addEventListener("keydown", enterDerives);
      input.addEventListener("input", markStale);
    }
    shape.addEventListener("input", () => showSymmetric(v.name));
    const cells = [name, document.createElement("td"), document.createElement("td")];
    cells[1].append(shape, box);
    cells[2].append(value);
    row.append(...cells);
    body.append(row);
    showSymmetric(v.name);
    const option = document.createElement("option");
    option.value = option.textContent = v.name;
    $("wrt").append(option);
  }
  if (answer.variables.some((v) => v.name === wrt)) $("wrt").value = wrt;
  $("variables").hidden = $("variables-note").hidden = answer.variables.length === 0;
}

function enterDerives(event) {
  if (event.key === "Enter") derive();
}

function number(x) {
  if (typeof x === "string") return x; // nan, inf, -inf
  if (Number.isInteger(x)) return String(x);
  return Number(x.toPrecision(4)).toString();
}

// The result shown no longer matches the inputs: dimmed, with a note, until the next answer.
function markStale() {
  if ($("result").dataset.state === "working") editedMeanwhile = true;
  if ($("result").hidden || $("result").dataset.state === "working") return;
  $("result").dataset.state = "stale";
  $("result-status").textContent = "out of date: the inputs changed since; press Differentiate";
  $("check").disabled = true;
}

async function derive() {
  const mine = ++derivations;
  editedMeanwhile = false;
  clearTimeout(inspectTimer);
  $("derive").disabled = true;
  $("result").dataset.state = "working";
  $("check").disabled = true;
  const started = Date.now();
  const tick = () => {
    if (mine !== derivations) return; // a newer request keeps the time
    const seconds = Math.floor((Date.now() - started) / 1000);
    $("status").textContent = seconds ? `working… ${seconds} s` : "working…";
  };
  tick();
  $("result-status").textContent = "working on the new inputs: this is the previous result";
  const timer = setInterval(tick, 1000);
  try {
    const readable = await inspect();
    if (mine !== derivations) return;
    if (!readable) { // the formula has an error, shown under it
      $("result").hidden = true;
      return;
    }
    const answer = await ask("derive", request());
    if (mine !== derivations) return; // a newer request is on its way
    if (answer.error) {
      showError(answer.error);
      $("result").hidden = true; // an old result under a new error would read as its answer
      return;
    }
    showError(null);
    show(answer);
    $("result").dataset.derivation = String(mine); // which request it answers (tests wait on it)
  } finally {
    clearInterval(timer);
    if (mine === derivations) {
      $("derive").disabled = false;
      $("status").textContent = "";
      $("check").disabled = false;
      if ($("result").dataset.state === "working") $("result").dataset.state = "current";
      if (editedMeanwhile) markStale(); // the answer is for the inputs as they were sent
    }
  }
}

function show(answer) {
  showMath("formula-math", answer.formula_mathml, answer.formula_text);
  showMath("derivative-math", answer.derivative_mathml, answer.derivative_text);
  $("typeset-note").textContent = answer.typeset_note;
  $("typeset-note").hidden = !answer.typeset_note;
  // The matrix form, where there is one, is the headline; index notation follows it, smaller.
  const headline = answer.headline === "matrix";
  showMath("matrix-notation", answer.matrix_mathml, answer.matrix_notation || "");
  showMath("formula-matrix-notation", headline ? answer.formula_matrix_mathml : null,
           headline ? answer.formula_matrix_notation || "" : "");
  $("formula-matrix-notation").hidden = !(headline && answer.formula_matrix_notation);
  $("matrix-notation-line").hidden = !headline;
  $("index-notation").className = headline ? "beside" : "";
  $("shape").textContent = answer.shape;
  $("layout").textContent = answer.layout;
  const steps = $("steps");
  steps.replaceChildren();
  for (const line of answer.steps) {
    const item = document.createElement("li");
    const colon = line.indexOf(": ");
    if (colon > 0 && !line.startsWith(" ")) {
      const label = document.createElement("strong");
      label.textContent = line.slice(0, colon);
      const code = document.createElement("code");
      code.textContent = line.slice(colon + 2);
      item.append(label, ": ", code);
    } else {
      item.textContent = line;
    }
    steps.append(item);
  }
  $("matrix-note").textContent = answer.matrix_note;
  const table = $("matrix");
  table.replaceChildren();
  for (const values of answer.matrix || []) {
    const row = document.createElement("tr");
    for (const x of values) {
      const cell = document.createElement("td");
      cell.textContent = number(x);
      if (x === 0) cell.className = "zero";
      row.append(cell);
    }
    table.append(row);
  }
  const randoms = Object.entries(answer.values || {});
  $("random-values").hidden = randoms.length === 0;
  const lines = randoms.map(([n, v]) => `${n} = ${JSON.stringify(v)}`);
  $("random-values").textContent = ["random values used:", ...lines].join("\n");
  $("einsum").textContent = answer.einsum;
  $("numpy").textContent = answer.numpy;
  $("latex").textContent = answer.latex;
  $("check-result").textContent = "";
  $("check-result").className = "";
  $("copied").textContent = $("copied-latex").textContent = "";
  $("result-status").textContent = "";
  $("result").dataset.state = "current";
  $("result").hidden = false;
}

// MathML generated and escaped by einsdiff; a formula too long to typeset comes as text.
function showMath(id, markup, text) {
  const box = $(id);
  if (markup) {
    box.innerHTML = markup;
    box.title = text;
  } else {
    const pre = document.createElement("pre");
    pre.textContent = text;
    box.replaceChildren(pre);
    box.title = "";
  }
}

async function check() {
  $("check").disabled = true;
  $("check-result").textContent = "checking…";
  const of = derivations; // the result this check belongs to
  try {
    const answer = await ask("check", request());
    if (of !== derivations) return; // a new derivation cleared the check
    if (answer.error) {
      $("check-result").textContent = answer.error.message;
      $("check-result").className = "error";
      return;
    }
    $("check-result").textContent =
      `max error ${typeof answer.max_error === "string" ? answer.max_error : answer.max_error.toPrecision(3)} over ${answer.entries} entries ` +
      `(values up to ${number(answer.scale)}): ${answer.ok ? "ok" : "MISMATCH"}`;
    $("check-result").title = answer.text;
    $("check-result").className = answer.ok ? "ok" : "error";
  } finally {
    $("check").disabled = $("result").dataset.state !== "current";
  }
}

// The text of a <pre> to the clipboard; without permission, selected so Ctrl+C copies it.
async function copyFrom(id, statusId) {
  try {
    await navigator.clipboard.writeText($(id).textContent);
  } catch (err) {
    const range = document.createRange();
    range.selectNodeContents($(id));
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
    $(statusId).textContent = "selected: press Ctrl+C";
    return;
  }
  $(statusId).textContent = "copied";
}

async function loadExample(index) {
  const example = examples[index];
  if (!example) return;
  $("formula").value = example.formula;
  $("notation").value = "auto";
  await inspect();
  for (const [name, shape] of Object.entries(example.shapes)) {
    if ($(`shape-${name}`)) $(`shape-${name}`).value = shape;
  }
  for (const v of inspected ? inspected.variables : []) {
    $(`value-${v.name}`).value = example.values[v.name] || "";
    $(`symmetric-${v.name}`).checked = (example.symmetric || []).includes(v.name);
    showSymmetric(v.name);
  }
  $("wrt").value = example.wrt;
  document.querySelector(`input[name="order"][value="${example.order}"]`).checked = true;
  await derive();
}

async function start() {
  const response = await fetch("/api/examples");
  examples = (await response.json()).examples;
  examples.forEach((example, index) => {
    const option = document.createElement("option");
    option.value = String(index);
    option.textContent = `${example.title}: ${example.formula}`;
    $("examples").append(option);
  });
  $("examples").addEventListener("change", (event) => loadExample(Number(event.target.value)));
  $("formula").addEventListener("input", () => {
    $("examples").value = ""; // the formula is no longer the example's
    markStale();
    clearTimeout(inspectTimer);
    inspectTimer = setTimeout(inspect, 250);
  });
  $("formula").addEventListener("keydown", enterDerives);
  $("derive").addEventListener("click", derive);
  $("wrt").addEventListener("change", markStale);
  $("notation").addEventListener("change", () => {
    markStale();
    inspect();
  });
  for (const radio of document.querySelectorAll('input[name="order"]')) radio.addEventListener("change", markStale);
  $("check").addEventListener("click", check);
  $("copy").addEventListener("click", () => copyFrom("numpy", "copied"));
  $("copy-latex").addEventListener("click", () => copyFrom("latex", "copied-latex"));
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
