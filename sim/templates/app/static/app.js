// The workbench page: send the form, show errors beside their fields, follow the run, show its headline.
"use strict";
const form = document.getElementById("setup");

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
    text.textContent = `${Math.round(100 * st.progress)}% (${st.jobs_done} of ${st.jobs} options done)`;
    if (st.status !== "running") {
      text.textContent = st.status === "done" ? "done" : `failed: ${st.error}`;
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
  const r = await fetch("/api/form", {method: "POST", headers: {"Content-Type": "application/json"},
                                      body: JSON.stringify(formData())});
  const answer = await r.json();
  if (!r.ok) { showError(answer.field || "general", answer.error); return; }
  document.getElementById("run").disabled = true;
  document.getElementById("progress-command").textContent = "pathways -m " + answer.overrides.join(" ");
  follow(answer.id);
});

document.getElementById("runs").addEventListener("click", (event) => {
  const button = event.target.closest("button.show");
  if (button) showResult(button.dataset.run);
});
