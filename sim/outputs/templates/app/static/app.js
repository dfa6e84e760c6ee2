// The workbench page: send the form, show errors beside their fields, follow the run, show its headline.
"use strict";
const form = document.getElementById("setup");
// The server's token: every request that changes something carries it (the server refuses it otherwise).
const token = document.querySelector('meta[name="pathways-token"]').content;

function post(url, body) {
  return fetch(url, {method: "POST", headers: {"Content-Type": "application/json", "X-Pathways-Token": token},
                     body: JSON.stringify(body)});
}

function showMode() {
  const mode = form.querySelector("input[name=mode]:checked").value;
  for (const fs of form.querySelectorAll("fieldset[data-mode]")) fs.hidden = fs.dataset.mode !== mode;
}
form.addEventListener("change", showMode);
showMode();

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

async function refreshRuns() {
  const r = await fetch("/runs");
  document.getElementById("runs-list").innerHTML = await r.text();
}

async function showResult(id) {
  const r = await fetch(`/runs/${encodeURIComponent(id)}/summary`);
  const box = document.getElementById("result");
  box.innerHTML = await r.text();
  box.scrollIntoView({behavior: "smooth", block: "start"});
}

async function follow(id) {
  const bar = document.getElementById("bar"), text = document.getElementById("progress-text");
  document.getElementById("progress").hidden = false;
  for (;;) {
    const st = await (await fetch(`/api/runs/${encodeURIComponent(id)}`)).json();
    bar.value = st.progress;
    text.textContent = st.status === "queued"
      ? `queued: waiting for a free core (${st.queue_position} run${st.queue_position === 1 ? "" : "s"} ahead)`
      : `${Math.round(100 * st.progress)}% (${st.jobs_done} of ${st.jobs} options done)`;
    if (st.status !== "running" && st.status !== "queued") {
      text.textContent = st.status === "done" ? "done" : `${st.status}: ${st.error}`;
      await refreshRuns();
      await showResult(id);
      document.getElementById("run").disabled = false;
      return;
    }
    await new Promise(resolve => setTimeout(resolve, 700));
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  document.getElementById("result").innerHTML = "";
  const r = await post("/api/form", formData());
  const answer = await r.json();
  if (!r.ok) { showError(answer.field || "general", answer.error); return; }
  document.getElementById("run").disabled = true;
  document.getElementById("progress-command").textContent = "pathways -m " + answer.overrides.join(" ");
  follow(answer.id);
});

document.getElementById("runs").addEventListener("click", async (event) => {
  const button = event.target.closest("button.show");
  if (button) showResult(button.dataset.run);
  const resume = event.target.closest("button.resume");
  if (!resume) return;
  clearErrors();
  const r = await post(`/api/runs/${encodeURIComponent(resume.dataset.run)}/resume`, {});
  const answer = await r.json();
  if (!r.ok) { showError("general", answer.error); return; }
  document.getElementById("run").disabled = true;
  document.getElementById("progress-command").textContent = "";
  await refreshRuns();
  follow(answer.id);
});
