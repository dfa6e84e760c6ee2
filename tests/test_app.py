"""pathways-app: the JSON API over HTTP, and the page driven in headless Chromium (pick, run, see the table)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from appserver import RUN_SECONDS, api_client, held, serve, wait
from conftest import chromium, extra, run_cli, screenshot

from sim.analysis.compare import find_jobs
from sim.interfaces import preflight as pf


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The app on a free port of 127.0.0.1, over an empty results folder, in a thread of this process."""
    results = tmp_path_factory.mktemp("app") / "results"
    with serve(results) as base:
        yield base, results


@pytest.mark.system
def test_api_runs_a_sweep_into_results(server: tuple[str, Path]) -> None:
    base, results = server
    with api_client(base) as client:
        r = client.post("/api/runs", json={"overrides": ["scenario=baseline,west_norfolk_local_plan",
                                                         "experiment=quick", "experiment.replications=2"]})
        assert r.status_code == 200, r.text
        run_id = r.json()["id"]
        st = wait(client, run_id)
        assert st["status"] == "done" and st["progress"] == 1.0 and st["error"] is None, st
        folder = results.joinpath(*run_id.split("~"))
        assert [j.label for j in find_jobs(folder)] == ["baseline", "west norfolk local plan"]
        csv_text = client.get(st["comparison"]).text
        assert csv_text == (folder / "comparison.csv").read_text()
        assert client.get(st["report"]).text == (folder / "report.html").read_text()
        assert client.get(st["workbook"]).content == (folder / "comparison.xlsx").read_bytes()
        assert run_id in [x["id"] for x in client.get("/api/runs").json()]


@pytest.mark.parametrize("override", ["pathway.recruitment.shortlisting=1.5", "intervention=[childcar]",
                                      "region.channels.gp_advisers.referrals_per_year=1e9"])
@pytest.mark.system
def test_api_refuses_bad_input_with_the_command_line_message(server: tuple[str, Path], override: str) -> None:
    base, results = server
    before = sorted(results.rglob("*"))
    with api_client(base) as client:
        r = client.post("/api/runs", json={"overrides": [override, "experiment=quick"]})
    assert r.status_code == 400
    cli = run_cli("-m", override, "experiment=quick")
    assert cli.returncode == 2
    assert cli.stderr.strip() == f"pathways: error: {r.json()['error']}"
    assert sorted(results.rglob("*")) == before  # nothing started, nothing written


@pytest.mark.system
def test_page_picks_runs_and_shows_the_comparison(server: tuple[str, Path], tmp_path: Path) -> None:
    base, results = server
    with chromium(tmp_path / "profile", width=1280, height=1000) as browser:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import Select, WebDriverWait

        browser.get(base + "/")
        assert "planner's workbench" in browser.title
        for box in browser.find_elements(By.CSS_SELECTOR, "input[name=scenarios]:checked"):
            box.click()  # the page starts from make run's comparison: this test runs one programme
        # bad input: the command line's message beside the field, and no run
        browser.find_element(By.CSS_SELECTOR, "input[name=scenarios][value=skills_plan_entry_retention]").click()
        replications = browser.find_element(By.NAME, "replications")
        replications.clear()
        replications.send_keys("0")
        browser.find_element(By.ID, "run").click()
        error = WebDriverWait(browser, 30).until(ec.visibility_of_element_located(
            (By.CSS_SELECTOR, '.field-error[data-for="replications"]')))
        assert error.text == ("command-line override 'experiment.replications=0': experiment.replications = 0: "
                              "allowed: [1, 100000]")
        # a good run: two replications of the quick experiment, one programme against the baseline
        Select(browser.find_element(By.NAME, "experiment")).select_by_value("quick")  # sets its own replications
        replications.clear()
        replications.send_keys("2")
        browser.find_element(By.ID, "run").click()
        errors = "return [...document.querySelectorAll('.field-error')].map(e => e.textContent).join('')"
        WebDriverWait(browser, 30).until(
            lambda b: b.find_element(By.ID, "progress").is_displayed() or b.execute_script(errors))
        assert not browser.execute_script(errors), browser.execute_script(errors)
        table = WebDriverWait(browser, RUN_SECONDS).until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, "#result #headline table")))
        text = table.text
        assert "baseline" in text and "skills plan entry retention" in text and "reference" in text
        assert browser.find_element(By.ID, "progress-text").text == "done"
        about = browser.find_element(By.CSS_SELECTOR, "#result dl.about").text  # the run in words
        for words in ("Norfolk and Waveney", "baseline (the reference)", "skills plan entry retention", "2 years",
                      "2 replications of each option", "ran for", "done"):
            assert words in about, about
        assert "A first look" in browser.find_element(By.CSS_SELECTOR, "#result .first-look").text
        assert float(browser.find_element(By.ID, "bar").get_attribute("value")) == 1.0
        links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#result a")}
        assert set(links) == {"the full report", "comparison.csv", "comparison.xlsx"}
        assert browser.execute_script("return document.querySelector('#result img').naturalWidth") > 0
        runs = browser.find_element(By.ID, "runs-list").text
        assert "done" in runs and "skills plan entry retention against baseline, Norfolk and Waveney" in runs, runs
        # showing the run again restores the form that asked for it
        browser.find_element(By.CSS_SELECTOR, "input[name=scenarios][value=skills_plan_entry_retention]").click()
        Select(browser.find_element(By.NAME, "experiment")).select_by_value("default")
        browser.find_element(By.CSS_SELECTOR, "#runs-list button.show").click()
        WebDriverWait(browser, 30).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#result #headline")))
        assert browser.find_element(By.CSS_SELECTOR,
                                    "input[name=scenarios][value=skills_plan_entry_retention]").is_selected()
        experiment = Select(browser.find_element(By.NAME, "experiment")).first_selected_option
        assert experiment.get_attribute("value") == "quick"
        assert browser.find_element(By.NAME, "replications").get_attribute("value") == "2"
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "400" not in e["message"]]
        assert not severe, severe
        screenshot(browser, tmp_path / "app.png")
    folders = [p for p in results.rglob("multirun.yaml")]
    assert any("skills_plan_entry_retention" in (p.parent / "multirun.yaml").read_text() for p in folders)


@pytest.mark.unit
def test_form_asks_for_the_sweeps_the_command_line_runs() -> None:
    """Each mode of the form is a sweep the command line accepts (checked by its own preflight)."""
    extra("fastapi", "app")
    from sim.interfaces.app import FormError, FormRequest, form_overrides

    forms = [FormRequest(mode="programmes", scenarios=["west_norfolk_local_plan"], region="norfolk_waveney"),
             FormRequest(mode="interventions", interventions=["childcare", "mentoring"], together=True),
             FormRequest(mode="sizes", sized="childcare", sizes="0, 10,40")]
    expected = [["scenario=baseline,west_norfolk_local_plan", "region=norfolk_waveney"],
                ["intervention=[],[childcare],[mentoring],[childcare,mentoring]"],
                ["intervention=[childcare]", "intervention.childcare.places=0,10,40", "experiment.reference=0"]]
    for form, want in zip(forms, expected):
        overrides, _ = form_overrides(form)
        assert all(w in overrides for w in want), overrides
        argv = pf.preflight(["-m", *overrides])
        assert len(pf._combos(argv)) == {0: 2, 1: 4, 2: 3}[forms.index(form)]
    with pytest.raises(FormError) as e:
        form_overrides(FormRequest(mode="programmes"))
    assert e.value.field == "scenarios"


@pytest.mark.unit
def test_the_page_starts_from_make_run_and_reads_a_form_back_from_its_command_line() -> None:
    """The form's defaults ask for what `make run` runs (the Makefile's options, the default experiment and its
    replications), and every form is read back from the command line it asks for (showing a run restores it)."""
    extra("fastapi", "app")
    import re

    from sim.interfaces.app import FormRequest, choices, form_of, form_overrides

    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    make_run = re.search(r"^NORFOLK_OPTIONS := (\S+)", makefile, re.M).group(1)
    ticked = [s["name"] for s in choices()["scenarios"] if s["ticked"]]
    overrides, _ = form_overrides(FormRequest(scenarios=ticked))
    assert sorted(overrides) == sorted([f"scenario=baseline,{','.join(ticked)}", "experiment=default"])
    assert set(make_run.split(",")) == {"baseline", *ticked}
    assert "experiment=" not in makefile.split("run:")[1].split("\n")[1]  # make run keeps the default experiment
    forms = [FormRequest(mode="programmes", scenarios=["connect_to_work_cumbria"], experiment="quick",
                         replications="2"),
             FormRequest(mode="interventions", interventions=["childcare", "mentoring"], together=True,
                         region="cumbria"),
             FormRequest(mode="sizes", sized="childcare", sizes="0,10,40")]
    for form in forms:
        read = form_of(form_overrides(form)[0])
        assert read is not None and {k: v for k, v in form.model_dump().items() if k in read} == read, (form, read)


@pytest.mark.unit
def test_a_run_in_words(tmp_path: Path) -> None:
    from sim.outputs.formatting import duration, run_length
    from sim.outputs.runinfo import about

    assert [run_length(d) for d in (1826, 730, 365.25, 182, 30)] == ["5 years", "2 years", "1 year", "6 months",
                                                                      "30 days"]
    assert [duration(s) for s in (4.4, 65, 3725)] == ["4 s", "1 min 05 s", "1 h 02 min"]
    a = about(tmp_path, [["intervention=[childcare]", "intervention.childcare.places=0", "experiment.reference=0",
                          "experiment=quick", "region=cumbria"],
                         ["intervention=[childcare]", "intervention.childcare.places=20", "experiment.reference=0",
                          "experiment=quick", "region=cumbria"]])
    assert a.options == ["childcare places 0", "childcare places 20"] and a.reference == "childcare places 0"
    assert a.region.startswith("Cumbria") and a.horizon_days == 730 and a.replications == 3 and a.first_look


@pytest.mark.system
def test_page_stops_a_run_and_resumes_it(tmp_path: Path) -> None:
    """The Stop button ends a run keeping its finished options, the run reads "stopped" in words, and its Resume
    button runs the rest to the end."""
    with serve(tmp_path / "results", max_runs=1) as base, chromium(tmp_path / "profile", width=1280,
                                                                     height=1000) as browser:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import Select, WebDriverWait

        browser.get(base + "/")
        for box in browser.find_elements(By.CSS_SELECTOR, "input[name=scenarios]:checked"):
            box.click()
        for name in ("west_norfolk_local_plan", "skills_plan_entry_retention"):
            browser.find_element(By.CSS_SELECTOR, f"input[name=scenarios][value={name}]").click()
        Select(browser.find_element(By.NAME, "experiment")).select_by_value("quick")
        replications = browser.find_element(By.NAME, "replications")
        assert replications.get_attribute("value") == "3"  # the experiment's own
        replications.clear()  # jobs long enough that Stop comes before the last one ends, on a fast machine too
        replications.send_keys("12")
        browser.find_element(By.ID, "run").click()
        text = browser.find_element(By.ID, "progress-text")
        WebDriverWait(browser, RUN_SECONDS).until(lambda b: "1 of 3 options done" in text.text)
        from sim.interfaces.app import RECORD

        record = next((tmp_path / "results").rglob(RECORD))
        with held(json.loads(record.read_text())["pid"]):  # where it was seen, however long the browser takes
            screenshot(browser, tmp_path / "running.png")
            browser.find_element(By.ID, "stop").click()
        WebDriverWait(browser, 30).until(lambda b: text.text.startswith("stopped"))
        assert text.text.startswith(("stopped: 1 of 3 options complete", "stopped: 2 of 3 options complete")), text.text
        state = WebDriverWait(browser, 30).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#result dl")))
        assert "stopped" in state.text and "failed" not in state.text and "options done" in state.text, state.text
        assert "stopped" in browser.find_element(By.ID, "runs-list").text
        screenshot(browser, tmp_path / "stopped.png")
        browser.find_element(By.CSS_SELECTOR, "#result button.resume").click()
        WebDriverWait(browser, RUN_SECONDS).until(lambda b: text.text in ("done", ) or text.text.startswith("failed"))
        assert text.text == "done"
        WebDriverWait(browser, 30).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#result #headline")))
        assert "3 of 3" not in browser.find_element(By.CSS_SELECTOR, "#result dl").text  # done says done
        screenshot(browser, tmp_path / "resumed.png")


@pytest.mark.system
def test_page_fits_900_px_without_sideways_scrolling(server: tuple[str, Path], tmp_path: Path) -> None:
    """At 900 px wide, in each mode of the form, nothing reaches past the window (the settings box was 927 px)."""
    base, _ = server
    overflow = ("const W = document.documentElement.clientWidth; const out = [];"
                "const S = document.documentElement.scrollWidth; if (S > W) out.push('page ' + S);"
                "for (const el of document.querySelectorAll('body *')) { const r = el.getBoundingClientRect();"
                "  if (r.width && r.right > W + 1) out.push(el.tagName + '.' + el.className + ' ' + r.right); }"
                "return out;")
    with chromium(tmp_path / "profile", width=900, height=900) as browser:
        from selenium.webdriver.common.by import By

        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": 900, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        from selenium.webdriver.support.ui import WebDriverWait

        browser.get(base + "/")
        for mode in ("programmes", "interventions", "sizes"):
            browser.find_element(By.CSS_SELECTOR, f"input[name=mode][value={mode}]").click()
            WebDriverWait(browser, 60).until(  # the key numbers of the ticked options, the widest table, are in
                lambda b: b.find_elements(By.CSS_SELECTOR, "#numbers-table tr[data-key]"))
            assert browser.execute_script(overflow) == [], mode
        screenshot(browser, tmp_path / "app-900.png")


UNCERTAIN = ["scenario=baseline,west_norfolk_local_plan", "experiment=quick", "experiment.uncertainty=parameters",
             "experiment.sets=4", "experiment.replications=2"]  # the options on 4 parameter sets: a recommendation


@pytest.mark.system
def test_page_edits_key_numbers_saves_a_scenario_and_opens_a_result_with_the_recommendation(
        server: tuple[str, Path], tmp_path: Path) -> None:
    """The key numbers of the ticked options with their sources and ranges; a changed one is saved as a scenario
    and runs as an override; a result opens with the recommendation's sentences (the report's own), or says that it
    is at the files' values only."""
    from sim.outputs.recommendation import read, sentences

    base, results = server
    with api_client(base) as client:
        uncertain = client.post("/api/runs", json={"overrides": UNCERTAIN}).json()["id"]
    with chromium(tmp_path / "profile", width=1280, height=1000) as browser:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import Select, WebDriverWait

        def row(key: str) -> Any:
            return WebDriverWait(browser, 60).until(ec.visibility_of_element_located(
                (By.CSS_SELECTOR, f'#numbers-table tr[data-key="{key}"]')))

        browser.get(base + "/")
        shortlisting = row("pathway.recruitment.shortlisting")
        assert "assumption: 8.7 applications per NHS advert" in shortlisting.text
        assert "a number in [0, 1]" in shortlisting.text and "Recruitment" in browser.find_element(
            By.ID, "numbers-table").text
        box = shortlisting.find_element(By.CSS_SELECTOR, "input")
        assert (box.get_attribute("value"), box.get_attribute("min"), box.get_attribute("max")) == ("0.5", "0", "1")
        assert not row("intervention.interview_coaching.changes.0.value").find_element(
            By.CSS_SELECTOR, "input").is_enabled()  # the baseline does not run coaching: not changed here
        box.clear()
        box.send_keys("0.6")
        assert "changed" in shortlisting.get_attribute("class")
        browser.find_element(By.NAME, "scenario_name").send_keys("page_shortlisting")
        browser.find_element(By.ID, "save-numbers").click()
        saved = WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "saved").text)
        assert "pathways scenario=page_shortlisting" in saved, saved
        text = (results.parent / "scenarios" / "page_shortlisting.yaml").read_text()
        assert "shortlisting: 0.6  # assumption: set on the page" in text
        screenshot(browser, tmp_path / "numbers.png")
        # the options' own capacities follow the options ticked
        browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=interventions]").click()
        browser.find_element(By.CSS_SELECTOR, "input[name=interventions][value=childcare]").click()
        assert "Childcare place" in row("pathway.support.childcare.places").text
        browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=programmes]").click()
        for tick in browser.find_elements(By.CSS_SELECTOR, "input[name=scenarios]:checked"):
            tick.click()
        browser.find_element(By.CSS_SELECTOR, "input[name=scenarios][value=skills_plan_entry_retention]").click()
        Select(browser.find_element(By.NAME, "experiment")).select_by_value("quick")
        replications = browser.find_element(By.NAME, "replications")
        replications.clear()
        replications.send_keys("1")
        assert row("pathway.recruitment.shortlisting").find_element(By.CSS_SELECTOR, "input").get_attribute(
            "value") == "0.6"  # kept while the options change
        browser.find_element(By.ID, "run").click()
        WebDriverWait(browser, RUN_SECONDS).until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, "#result #headline table")))
        assert browser.find_element(By.CSS_SELECTOR, "#result #recommendation").text.startswith(
            "At the files' values only")
        assert "pathway.recruitment.shortlisting=0.6" in browser.find_element(By.CSS_SELECTOR, "#result dl").text
        # the run with parameter sets, shown from the runs list: its result opens with what to fund
        with api_client(base) as client:
            assert wait(client, uncertain)["status"] == "done"
        show = f'#runs-list tr[data-run="{uncertain}"] button.show'
        browser.execute_script("refreshRuns()")
        WebDriverWait(browser, 30).until(lambda b: b.execute_script(  # the list is redrawn: click what is there now
            f"const b = document.querySelector('{show}'); if (b) b.click(); return Boolean(b);"))
        advice = WebDriverWait(browser, 60).until(ec.visibility_of_element_located(
            (By.CSS_SELECTOR, "#result #recommendation")))
        words = sentences(read(results.joinpath(*uncertain.split("~"))))
        shown = [p.text for p in advice.find_elements(By.CSS_SELECTOR, "p")]
        assert words and shown[:len(words)] == words
        assert words[0].startswith(("Residents into work: fund", "Staffing: fund"))
        first = browser.execute_script("return [...document.querySelectorAll('#result > *')].map(e => e.id || "
                                       "e.tagName).indexOf('recommendation') < [...document.querySelectorAll("
                                       "'#result > *')].map(e => e.id || e.tagName).indexOf('headline')")
        assert first  # above the headline table
        assert "pathway.recruitment.shortlisting" in browser.find_element(By.ID, "numbers-table").text
        screenshot(browser, tmp_path / "recommendation.png")
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "400" not in e["message"]]
        assert not severe, severe
    report = (results.joinpath(*uncertain.split("~")) / "report.html").read_text()
    assert words[0].split(".")[0] in report  # the report opens with the same words


@pytest.mark.system
def test_api_finds_the_best_mix_within_a_budget_with_progress_and_its_files(server: tuple[str, Path]) -> None:
    base, results = server
    with api_client(base) as client:
        r = client.post("/api/optimise", json={"mode": "interventions", "interventions": ["childcare"],
                                               "experiment": "quick", "budget": 400000})
        assert r.status_code == 200, r.text
        run_id = r.json()["id"]
        folder = results.joinpath(*run_id.split("~"))
        st = wait(client, run_id)  # progress only goes forward
        assert st["status"] == "done" and st["progress"] == 1.0 and st["kind"] == "optimise", st
        assert (folder / ".progress").read_text().split()[0] == (folder / ".progress").read_text().split()[1]
        words = json.loads((folder / "optimise.json").read_text())["words"]
        assert st["words"] == words and words[0].startswith("Within £400,000"), st["words"]  # the command's own
        assert set(st["files"]) >= {"report.html", "optimise.json", "frontier.csv", "recommended.yaml"}
        for name, url in st["files"].items():
            assert client.get(url).content == (folder / name).read_bytes()
        page = client.get(f"/runs/{run_id}/summary").text
        assert "What to fund within £400,000" in page and st["words"][0].split(":")[0] in page
        assert client.get(f"/api/runs/{run_id}").json()["budget"] == 400000
