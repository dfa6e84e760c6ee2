// The workbench page: send the form, show errors beside their fields, follow a run (and stop it), show a run
// described in words with its headline, restore the form that asked for it, resume a stopped run.
"use strict";
const form = document.getElementById("setup");
// The server's token: every request that changes something carries it (the server refuses it otherwise).
const token = document.querySelector('meta[name="pathways-token"]').content;
const headers = {"Content-Type": "application/json", "X-Pathways-Token": token};
let following = null;  // the id of the run the progress bar follows

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
    replications: fd.get("replications") || "",
  };
}

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
  showMode();
}

async function refreshRuns() {
  const r = await fetch("/runs");
  document.getElementById("runs-list").innerHTML = await r.text();
}

async function showResult(id, restore) {
  const box = document.getElementById("result");
  box.innerHTML = '<p class="note" id="loading">Reading the run\u2019s results\u2026</p>';
  box.scrollIntoView({behavior: "smooth", block: "start"});
  if (restore) restoreForm((await (await fetch(`/api/runs/${encodeURIComponent(id)}`)).json()).form);
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
  document.getElementById("result").innerHTML = "";
  const r = await post("/api/form", formData());
  const answer = await r.json();
  if (!r.ok) { showError(answer.field || "general", answer.error); return; }
  document.getElementById("run").disabled = true;
  document.getElementById("progress-command").textContent = "";
  await refreshRuns();
  follow(answer.id);
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
