// The workbench page: send the form, show errors beside their fields, follow a run (and stop it), show a run
// described in words with its headline, restore the form that asked for it, resume a stopped run.
"use strict";
const form = document.getElementById("setup");
// The server's token: every request that changes something carries it (the server refuses it otherwise).
const token = document.querySelector('meta[name="pathways-token"]').content;
const headers = {"Content-Type": "application/json", "X-Pathways-Token": token};
let following = null;  // the id of the run the progress bar follows
let edits = {};  // key numbers changed on the page: config path -> the number typed

function post(url, body) {
  return fetch(url, {method: "POST", headers, body: JSON.stringify(body)});
}

function showMode() {
  const mode = form.querySelector("input[name=mode]:checked").value;
  for (const fs of form.querySelectorAll("fieldset[data-mode]")) fs.hidden = fs.dataset.mode !== mode;
}
form.addEventListener("change", showMode);
showMode();

// A run length comes with its own number of replications (the experiment's), which the planner may change.
form.elements.experiment.addEventListener("change", () => {
  const chosen = form.elements.experiment.selectedOptions[0];
  if (chosen && chosen.dataset.replications) form.elements.replications.value = chosen.dataset.replications;
});

function clearErrors() {
  for (const el of document.querySelectorAll(".field-error")) el.textContent = "";
}

function showError(field, message) {
  const el = document.querySelector(`.field-error[data-for="${field}"]`) ||
    document.querySelector('.field-error[data-for="general"]');
  el.textContent = message;
}

function formData() {
  const fd = new FormData(form);
  return {
    mode: fd.get("mode"), region: fd.get("region") || "", scenarios: fd.getAll("scenarios"),
    interventions: fd.getAll("interventions"), together: fd.get("together") === "on",
    sized: fd.get("sized") || "", sizes: fd.get("sizes") || "", experiment: fd.get("experiment"),
    replications: fd.get("replications") || "", numbers: changedNumbers(),
  };
}

// ---------------------------------------------------------------- the key numbers
function changedNumbers() {
  const out = {};
  for (const [key, value] of Object.entries(edits)) out[key] = Number(value);
  return out;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  row.appendChild(td);
  return td;
}

// One row a number, under its stage: its name and path, an input within its allowed range, the range, its source.
function showNumbers(rows) {
  const fd = new FormData(form);
  const table = document.createElement("table");
  table.className = "numbers";
  table.innerHTML = "<thead><tr><th>Number</th><th>Value</th><th>Allowed</th><th>Source</th></tr></thead>";
  const body = document.createElement("tbody");
  let stage = null;
  for (const n of rows) {
    if (n.stage !== stage) {
      stage = n.stage;
      const head = document.createElement("tr");
      const th = document.createElement("th");
      th.colSpan = 4; th.className = "stage"; th.textContent = stage;
      head.appendChild(th); body.appendChild(head);
    }
    const tr = document.createElement("tr");
    tr.dataset.key = n.key;
    const name = cell(tr, n.label);
    name.appendChild(document.createElement("br"));
    const code = document.createElement("code"); code.textContent = n.key; name.appendChild(code);
    const input = document.createElement("input");
    Object.assign(input, {type: "number", step: "any", min: String(n.low), name: "number"});
    if (n.high !== null) input.max = String(n.high);
    input.dataset.key = n.key; input.dataset.file = String(n.value);
    input.value = n.key in edits ? edits[n.key] : String(n.value);
    const own = !n.intervention || (fd.get("mode") === "sizes" && fd.get("sized") === n.intervention);
    if (!own) {
      input.disabled = true;
      input.title = "changes only where every option runs this intervention: compare its sizes to change it";
      delete edits[n.key];
    }
    cell(tr, "", "value").appendChild(input);
    const range = cell(tr, n.allowed, "allowed");
    if (!own) {
      const why = document.createElement("div");
      why.className = "muted";
      why.textContent = "changed when comparing its sizes";
      range.appendChild(why);
    }
    cell(tr, n.source || "no source given", "source");
    tr.classList.toggle("changed", n.key in edits);
    body.appendChild(tr);
  }
  for (const key of Object.keys(edits)) if (!rows.some(n => n.key === key)) delete edits[key];
  table.appendChild(body);
  const box = document.getElementById("numbers-table");
  box.replaceChildren(table);
  document.getElementById("save-numbers").disabled = Object.keys(edits).length === 0;
}

let numbersAsked = 0;
let numbersPending = Promise.resolve();  // the key numbers being read (the server checks one thing at a time)
function loadNumbers() {
  numbersPending = readNumbers();
  return numbersPending;
}

async function readNumbers() {
  const asked = ++numbersAsked;
  const r = await post("/api/numbers", {...formData(), numbers: {}});
  const answer = await r.json();
  if (asked !== numbersAsked) return;  // a later change asked again
  if (!r.ok) {
    document.getElementById("numbers-table").textContent = answer.error;
    return;
  }
  showNumbers(answer.numbers);
}

let numbersTimer = null;
form.addEventListener("change", (event) => {
  if (["number", "scenario_name", "workbook", "region_name", "budget"].includes(event.target.name)) return;
  clearTimeout(numbersTimer);
  numbersTimer = setTimeout(loadNumbers, 250);
});

form.addEventListener("input", (event) => {
  const input = event.target;
  if (input.name !== "number") return;
  const key = input.dataset.key;
  if (input.value !== "" && Number(input.value) !== Number(input.dataset.file)) edits[key] = input.value;
  else delete edits[key];
  input.closest("tr").classList.toggle("changed", key in edits);
  document.getElementById("save-numbers").disabled = Object.keys(edits).length === 0;
  document.getElementById("saved").textContent = "";
});

document.getElementById("save-numbers").addEventListener("click", async () => {
  clearErrors();
  const r = await post("/api/scenarios", {name: form.elements.scenario_name.value.trim(),
                                          numbers: changedNumbers(), region: form.elements.region.value});
  const answer = await r.json();
  if (!r.ok) { showError("save", answer.error); return; }
  document.getElementById("saved").textContent =
    `Saved ${answer.file}: run it with ${answer.command}, or tick it among the programmes once the page is reloaded.`;
});

// The form as it was when the run was asked for (the server reads it back from the run's command line).
function restoreForm(f) {
  if (!f) return;
  form.querySelector(`input[name=mode][value="${f.mode}"]`).checked = true;
  const ticked = {scenarios: f.scenarios || [], interventions: f.interventions || []};
  for (const name of ["scenarios", "interventions"]) {
    for (const box of form.querySelectorAll(`input[name=${name}]`)) box.checked = ticked[name].includes(box.value);
  }
  form.elements.together.checked = Boolean(f.together);
  if (f.sized) form.elements.sized.value = f.sized;
  if (f.sizes) form.elements.sizes.value = f.sizes;
  form.elements.region.value = f.region || "";
  form.elements.experiment.value = f.experiment || "default";
  const chosen = form.elements.experiment.selectedOptions[0];
  form.elements.replications.value = f.replications || (chosen ? chosen.dataset.replications : "");
  edits = {};
  for (const [key, value] of Object.entries(f.numbers || {})) edits[key] = String(value);
  showMode();
  loadNumbers();
}

async function refreshRuns() {
  const r = await fetch("/runs");
  document.getElementById("runs-list").innerHTML = await r.text();
}

async function showResult(id, restore) {
  const box = document.getElementById("result");
  box.innerHTML = '<p class="note" id="loading">Reading the run\u2019s results\u2026</p>';
  box.scrollIntoView({behavior: "smooth", block: "start"});
  if (restore) {
    const st = await (await fetch(`/api/runs/${encodeURIComponent(id)}`)).json();
    restoreForm(st.form);
    if (st.budget) form.elements.budget.value = st.budget;
  }
  const r = await fetch(`/runs/${encodeURIComponent(id)}/summary`);
  box.innerHTML = await r.text();
}

async function follow(id) {
  following = id;
  const bar = document.getElementById("bar"), text = document.getElementById("progress-text");
  const stop = document.getElementById("stop");
  document.getElementById("progress").hidden = false;
  stop.hidden = false;
  stop.disabled = false;
  for (;;) {
    const st = await (await fetch(`/api/runs/${encodeURIComponent(id)}`)).json();
    if (following !== id) return;
    bar.value = st.progress;
    text.textContent = st.status === "queued"
      ? `queued: waiting for a free core (${st.queue_position} run${st.queue_position === 1 ? "" : "s"} ahead)`
      : st.kind === "optimise" ? `searching: ${Math.round(100 * st.progress)}% of the planned simulation runs`
      : `${Math.round(100 * st.progress)}% (${st.jobs_done} of ${st.jobs} options done)`;
    if (st.status !== "running" && st.status !== "queued") {
      text.textContent = st.status === "done" ? "done"
        : st.error.startsWith(st.status) ? st.error : `${st.status}: ${st.error}`;
      stop.hidden = true;
      following = null;
      await refreshRuns();
      await showResult(id, false);
      document.getElementById("run").disabled = false;
      return;
    }
    await new Promise(resolve => setTimeout(resolve, 700));
  }
}

async function stopRun(id) {
  document.getElementById("stop").disabled = true;
  document.getElementById("progress-text").textContent = "stopping: the finished options are kept\u2026";
  const r = await fetch(`/api/runs/${encodeURIComponent(id)}`, {method: "DELETE", headers});
  const answer = await r.json();
  if (!r.ok) showError("general", answer.error);
  await refreshRuns();
  if (following !== id) await showResult(id, false);
}

async function resumeRun(id) {
  clearErrors();
  const r = await post(`/api/runs/${encodeURIComponent(id)}/resume`, {});
  const answer = await r.json();
  if (!r.ok) { showError("general", answer.error); return; }
  document.getElementById("run").disabled = true;
  document.getElementById("progress-command").textContent = "";
  await refreshRuns();
  follow(answer.id);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  clearTimeout(numbersTimer);
  await numbersPending;  // so that the server checks the run at once, not in its child
  await startRun("/api/form", formData());
});

// Send a run (a sweep, or the optimiser) and follow it, or show the server's message beside its field.
async function startRun(url, body) {
  document.getElementById("result").innerHTML = "";
  const r = await post(url, body);
  const answer = await r.json();
  if (!r.ok) { showError(answer.field || "general", answer.error); return; }
  document.getElementById("run").disabled = true;
  document.getElementById("progress-command").textContent = "";
  await refreshRuns();
  follow(answer.id);
}

// The optimiser: the same form, and a budget (checked again by the server).
document.getElementById("optimise-run").addEventListener("click", async () => {
  clearErrors();
  clearTimeout(numbersTimer);
  await numbersPending;
  const budget = Number(form.elements.budget.value);
  await startRun("/api/optimise", {...formData(), budget: Number.isFinite(budget) ? budget : -1});
});

// A planner's own area: the workbook's bytes go to the server, which checks every cell and names each bad one.
document.getElementById("upload-region").addEventListener("click", async () => {
  clearErrors();
  const problems = document.getElementById("upload-problems");
  problems.replaceChildren();
  document.getElementById("uploaded").textContent = "";
  const file = form.elements.workbook.files[0];
  if (!file) { showError("upload", "choose the filled-in workbook (.xlsx) first"); return; }
  const name = form.elements.region_name.value.trim();
  const r = await fetch(`/api/regions?name=${encodeURIComponent(name)}`, {method: "POST", body: file,
    headers: {"X-Pathways-Token": token, "Content-Type": "application/octet-stream"}});
  const answer = await r.json();
  if (!r.ok) {
    showError("upload", answer.error);
    for (const line of answer.problems || []) {
      const li = document.createElement("li"); li.textContent = line; problems.appendChild(li);
    }
    return;
  }
  const option = new Option(answer.label, answer.name, true, true);
  form.elements.region.add(option);
  form.elements.region.dispatchEvent(new Event("change", {bubbles: true}));
  document.getElementById("uploaded").textContent =
    `Added ${answer.label} (${answer.file}), chosen as the region above; from the command line: ${answer.command}.`;
});

document.getElementById("stop").addEventListener("click", () => { if (following) stopRun(following); });

// The buttons of the runs list and of the result box.
document.body.addEventListener("click", (event) => {
  const button = event.target.closest("button.show, button.stop, button.resume");
  if (!button) return;
  const id = button.dataset.run;
  if (button.classList.contains("show")) showResult(id, true);
  else if (button.classList.contains("stop")) stopRun(id);
  else resumeRun(id);
});

loadNumbers();
