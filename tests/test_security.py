"""pathways-app under attack and load (issue 18): model parameters only, only its own page, one run one
folder, a queue beyond the limit, runs known across restarts and resumed, and every error one line."""

from __future__ import annotations

import json
import os
import signal
import site
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from appserver import RUN_SECONDS, api_client, held, serve, token_of, wait
from conftest import chromium, extra, run_cli

from sim.analysis.compare import find_jobs
from sim.interfaces.overrides import MAX_JOBS, MAX_OVERRIDE_CHARS, OverrideError, check_overrides
from sim.params.paths import SCENARIO_DIR

QUICK = ["experiment=quick", "experiment.replications=1"]


def web() -> ModuleType:
    """The web app's module (`sim.interfaces.app`), or skip the test when the app extra is missing."""
    extra("fastapi", "app")
    import sim.interfaces.app

    return sim.interfaces.app


def attacks(tmp: Path) -> dict[str, list[str]]:
    """Every attack of the issue's "Why", each aimed at a file under `tmp` (or the venv's site-packages)."""
    pth = Path(site.getsitepackages()[0]) / "zz_pathways_attack.pth"
    return {
        "sweep subdir": [f"hydra.sweep.subdir={tmp / 'elsewhere'}", *QUICK],
        "sweep subdir escape": ["hydra.sweep.subdir=../../../../escape", *QUICK],
        "output subdir": [f"hydra.output_subdir={tmp / 'out'}", *QUICK],
        "log file": [f"hydra.job_logging.handlers.file.filename={tmp / 'log'}", *QUICK],
        "copy callback": ["+hydra.callbacks.x._target_=shutil.copyfile", "+hydra.callbacks.x.src=/etc/hostname",
                          f"+hydra.callbacks.x.dst={tmp / 'copy'}", *QUICK],
        "open callback": ["+hydra.callbacks.x._target_=builtins.open", f"+hydra.callbacks.x.file={tmp / 'made'}",
                          "+hydra.callbacks.x.mode=w", *QUICK],
        ".pth FileHandler": ["hydra.job_logging.handlers.file.class=logging.FileHandler",
                             f"hydra.job_logging.handlers.file.filename={pth}",
                             f"hydra.job_logging.formatters.simple.format='import os; open(\"{tmp / 'ran'}\", \"w\")'",
                             *QUICK],
        "target in a model key": ["+intervention.childcare._target_=os.system", *QUICK],
        "target in a value": ["intervention.childcare.changes=[{_target_: os.system, target: x}]", *QUICK],
        "search path": [f"hydra.searchpath=[file://{tmp}]", *QUICK],
        "ray launcher": ["hydra/launcher=ray_cluster", *QUICK],
        "slurm launcher": ["hydra/launcher=slurm", *QUICK],
        "environment": ["region.label=${oc.env:PATH}", *QUICK],
        "quoted environment": ["region.label='${oc.env:HOME}'", *QUICK],
        "escaped environment": ["region.label=$\\{oc.env:HOME\\}", *QUICK],
        "package": ["region@hydra.run=norfolk_waveney", *QUICK],
        "unknown key": ["+anything=1", *QUICK],
        "unknown schema key": ["++region.secret=1", *QUICK],
        "delete unknown": ["~hydra.callbacks", *QUICK],
        "glob": ["intervention=glob(*)", *QUICK],
        "huge sweep": ["experiment.seed=range(0,100000)", *QUICK],
    }


def written(tmp: Path) -> list[Path]:
    """What the attacks would have written."""
    pth = Path(site.getsitepackages()[0]) / "zz_pathways_attack.pth"
    return [p for p in [pth, *(tmp / n for n in ("elsewhere", "out", "log", "copy", "made", "ran"))] if p.exists()]


# ----------------------------------------------------------------------------- the allow-list, on its own
@pytest.mark.parametrize("name", list(attacks(Path("/tmp/x"))))
@pytest.mark.unit
def test_allow_list_refuses_every_attack_naming_it(name: str) -> None:
    overrides = attacks(Path("/tmp/x"))[name]
    with pytest.raises(OverrideError) as e:
        check_overrides(overrides)
    message = str(e.value)
    assert "\n" not in message
    assert any(message.startswith(f"command-line override '{o[:40]}") for o in overrides[:-len(QUICK)]), message


@pytest.mark.parametrize("overrides", [
    ["scenario=baseline,west_norfolk_local_plan", "experiment=quick", "experiment.replications=2"],
    ["intervention=[],[childcare],[mentoring],[childcare,mentoring]", "region=norfolk_waveney"],
    ["intervention=[childcare]", "intervention.childcare.places=0,10,40", "experiment.reference=0"],
    ["pathway.recruitment.checks.mean=20", "pathway=default", "region.label='Norfolk (test)'"],
    ["experiment.seed=range(0,500)"], ["intervention.childcare.changes=[{target: a.b, op: scale, value: 2}]"],
    ["+intervention=[childcare]", "scenario_name=mine"],
])
@pytest.mark.unit
def test_allow_list_takes_model_parameters_unchanged(overrides: list[str]) -> None:
    assert check_overrides(list(overrides)) == overrides


@pytest.mark.unit
def test_a_sweep_is_sized_before_it_is_expanded() -> None:
    started = time.perf_counter()
    with pytest.raises(OverrideError) as e:
        check_overrides(["experiment.seed=range(0,100000)", "experiment.replications=range(1,1000000000)"])
    assert time.perf_counter() - started < 1.0
    assert f"at most {MAX_JOBS} jobs" in str(e.value) and "experiment" in str(e.value)
    with pytest.raises(OverrideError, match=r"experiment\.seed takes 30 values"):  # 30 x 20 = 600 jobs
        check_overrides(["experiment.seed=range(0,30)", "experiment.replications=range(1,21)"])
    with pytest.raises(OverrideError, match=f"at most {MAX_OVERRIDE_CHARS:,}"):
        check_overrides(["region.label=" + "x" * MAX_OVERRIDE_CHARS])


# ----------------------------------------------------------------------------- through the API
@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One server (at most one run at once) over an empty results folder."""
    results = tmp_path_factory.mktemp("secure") / "results"
    with serve(results, max_runs=1) as base:
        yield base, results


@pytest.mark.system
def test_api_refuses_every_attack_and_writes_nothing(app: tuple[str, Path], tmp_path: Path) -> None:
    base, results = app
    before = sorted(results.rglob("*"))
    with api_client(base) as client:
        for name, overrides in attacks(tmp_path).items():
            started = time.perf_counter()
            r = client.post("/api/runs", json={"overrides": overrides})
            seconds = time.perf_counter() - started
            assert r.status_code == 400 and set(r.json()) == {"error"}, (name, r.text)
            assert r.json()["error"].startswith("command-line override '"), (name, r.text)
            assert seconds < 2.0, (name, seconds)
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # a .pth file would run now
    time.sleep(1.0)  # a child, had one started, would have begun writing
    assert written(tmp_path) == []
    assert sorted(results.rglob("*")) == before


@pytest.mark.system
def test_api_bounds_the_body_and_every_error_is_one_line(app: tuple[str, Path]) -> None:
    base, _ = app
    with api_client(base) as client:
        big = client.post("/api/runs", json={"overrides": ["region.label=" + "x" * (5 * 1024 * 1024)]})
        assert big.status_code == 413 and f"at most {web().MAX_BODY:,}" in big.json()["error"], big.text
        bad = [client.post("/api/runs", content=b"{not json", headers={"Content-Type": "application/json"}),
               client.post("/api/runs", json={"overrides": "scenario=baseline"}),
               client.post("/api/runs", json={"overides": ["scenario=baseline"]}),
               client.post("/api/runs", json=[1, 2]),
               client.post("/api/form", json={"mode": "programmes", "scenarios": "x"}),
               client.post("/api/runs", json={"overrides": ["experiment.seed=1"] * 51})]
        for r in bad:
            assert r.status_code == 400 and set(r.json()) == {"error"}, r.text
            assert "\n" not in r.json()["error"] and r.json()["error"], r.text
        assert "overides" in bad[2].json()["error"]
        for r in (client.get("/api/runs/2000-01-01~nothing"), client.get("/nowhere"),
                  client.post("/api/runs/2000-01-01~nothing/resume", json={}), client.delete("/api/runs")):
            assert r.status_code in (404, 405) and set(r.json()) == {"error"}, r.text


@pytest.mark.system
def test_only_its_own_page_can_call_it(app: tuple[str, Path]) -> None:
    base, results = app
    TOKEN_HEADER, TOKEN_FILE = web().TOKEN_HEADER, web().TOKEN_FILE
    port = base.rsplit(":", 1)[1]
    token = token_of(base)
    bad_override = {"overrides": ["pathway.recruitment.shortlisting=1.5"]}  # passes the guard, then refused: 400

    def post(headers: dict[str, str]) -> httpx.Response:
        return httpx.post(base + "/api/runs", json=bad_override, headers=headers, timeout=60)

    evil = post({"Host": "evil.example", "Origin": "http://evil.example", TOKEN_HEADER: token})
    assert evil.status_code == 403 and "evil.example" in evil.json()["error"]
    assert httpx.get(base + "/", headers={"Host": f"evil.example:{port}"}).status_code == 403  # DNS rebinding
    assert httpx.get(base + "/api/runs", headers={"Host": "127.0.0.1"}).status_code == 403  # not its port
    origin = post({"Origin": "http://evil.example", TOKEN_HEADER: token})
    assert origin.status_code == 403 and "Origin" in origin.json()["error"]
    assert post({"Origin": "null", TOKEN_HEADER: token}).status_code == 403
    for headers in ({}, {TOKEN_HEADER: "guess"}, {TOKEN_HEADER: token[:-1]}):
        r = post(headers)
        assert r.status_code == 403 and TOKEN_HEADER in r.json()["error"], r.text
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        ok = post({"Host": host, "Origin": f"http://{host}", TOKEN_HEADER: token})
        assert ok.status_code == 400 and "shortlisting" in ok.json()["error"], ok.text
    form = httpx.post(base + "/api/form", data={"mode": "programmes"}, headers={"Origin": "http://evil.example"})
    assert form.status_code == 403  # a plain cross-site form
    preflight = httpx.options(base + "/api/runs", headers={"Origin": "http://evil.example",
                                                            "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in httpx.get(base + "/api/runs").headers
    token_file = results.parent / TOKEN_FILE
    assert token_file.read_text().strip() == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


@pytest.mark.system
def test_saving_key_numbers_writes_one_new_file_in_the_scenarios_folder_only(app: tuple[str, Path],
                                                                              tmp_path: Path) -> None:
    """POST /api/scenarios: a validated slug names a new file in the app's scenarios folder; a path, an existing
    name, a number outside the key numbers or their ranges, a request without the token or from another site is
    refused in one line, writing nothing; the key numbers a run changes pass the allow-list as plain overrides."""
    base, results = app
    scenarios = results.parent / "scenarios"
    shipped = {p: p.read_bytes() for p in SCENARIO_DIR.glob("*.yaml")}
    good = {"pathway.recruitment.shortlisting": 0.6}
    with api_client(base) as client:
        refused = [client.post("/api/scenarios", json=body) for body in (
            {"name": "../../escape", "numbers": good}, {"name": str(tmp_path / "abs"), "numbers": good},
            {"name": "baseline", "numbers": good}, {"name": "west_norfolk_local_plan", "numbers": good},
            {"name": "ok_name", "numbers": {"hydra.run.dir": 1}}, {"name": "ok_name", "numbers": {"x.y": 1}},
            {"name": "ok_name", "numbers": {"pathway.recruitment.shortlisting": 1.5}},
            {"name": "ok_name", "numbers": {"region.label": "${oc.env:HOME}"}},
            {"name": "ok_name", "numbers": {"_target_": "os.system"}},
            {"name": "ok_name", "numbers": {"pathway.recruitment.shortlisting": "${oc.env:HOME}"}},
            {"name": "ok_name", "numbers": good, "path": "/tmp"}, {"name": "ok_name", "numbers": good,
                                                                   "region": "../../etc"})]
        for r in refused:
            assert r.status_code == 400 and "\n" not in r.json()["error"], r.text
        assert not list(scenarios.iterdir())
        for headers in ({"X-Pathways-Token": "guess"}, {"Origin": "http://evil.example"}):
            r = httpx.post(base + "/api/scenarios", json={"name": "ok_name", "numbers": good}, headers=headers)
            assert r.status_code == 403, r.text
        saved = client.post("/api/scenarios", json={"name": "ok_name", "numbers": good})
        assert saved.status_code == 200 and saved.json()["command"] == "pathways scenario=ok_name", saved.text
        first = (scenarios / "ok_name.yaml").read_bytes()
        again = client.post("/api/scenarios", json={"name": "ok_name", "numbers": {"pathway.engagement.advisers": 9}})
        assert again.status_code == 400 and "already a scenario" in again.json()["error"]
        assert (scenarios / "ok_name.yaml").read_bytes() == first
        bad_form = client.post("/api/form", json={"mode": "programmes", "scenarios": ["west_norfolk_local_plan"],
                                                  "numbers": {"hydra.sweep.dir": 1}})
        assert bad_form.status_code == 400 and bad_form.json()["field"] == "numbers"
    assert [p.name for p in scenarios.iterdir()] == ["ok_name.yaml"]
    assert {p: p.read_bytes() for p in SCENARIO_DIR.glob("*.yaml")} == shipped
    assert not list(tmp_path.iterdir()) and not (results.parent.parent / "escape.yaml").exists()
    check_overrides(["pathway.recruitment.withdrawal_patience.mean=90",
                     "intervention.interview_coaching.changes.0.value=1.3"])


def _processes() -> Iterator[tuple[int, list[str]]]:
    """Every process: its pid and the fields of /proc/PID/stat after its name (state, ppid, pgid, ...)."""
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            yield int(stat_file.parent.name), stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue


def _children() -> list[tuple[int, str]]:
    """This process's child processes: (pid, state)."""
    return [(pid, fields[0]) for pid, fields in _processes() if int(fields[1]) == os.getpid()]


def _job_settings(folder: Path) -> list[tuple[int, int]]:
    """(seed, replications) of each job, from the config the job ran with."""
    import yaml

    out = []
    for config in sorted(folder.glob("*/config.yaml")):
        ex = yaml.safe_load(config.read_text())["experiment"]
        out.append((ex["seed"], ex["replications"]))
    return out


@pytest.mark.system
def test_simultaneous_posts_get_their_own_folders_and_queue_beyond_the_limit(app: tuple[str, Path]) -> None:
    base, results = app
    settings = [(11, 1), (12, 2)]
    answers: list[httpx.Response] = []
    with api_client(base) as client:
        def post(seed: int, replications: int) -> None:
            answers.append(client.post("/api/runs", json={"overrides": [
                f"experiment.seed={seed}", "experiment=quick", f"experiment.replications={replications}"]}))

        threads = [threading.Thread(target=post, args=s) for s in settings]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
        ids = [r.json()["id"] for r in answers]
        assert len(set(ids)) == 2
        statuses = sorted(client.get(f"/api/runs/{i}").json()["status"] for i in ids)
        assert statuses == ["queued", "running"], statuses  # at most one at once
        queued = next(i for i in ids if client.get(f"/api/runs/{i}").json()["status"] == "queued")
        assert client.get(f"/api/runs/{queued}").json()["queue_position"] == 0
        assert "queued" in client.get("/").text
        most = 0
        while any(client.get(f"/api/runs/{i}").json()["status"] in ("queued", "running") for i in ids):
            most = max(most, sum(client.get(f"/api/runs/{i}").json()["status"] == "running" for i in ids))
            time.sleep(0.5)
        assert most == 1
        finals = [wait(client, i) for i in ids]
    assert [f["status"] for f in finals] == ["done", "done"], finals
    for run_id, answer in zip(ids, answers):
        folder = results.joinpath(*run_id.split("~"))
        request = json.loads(answer.request.content)["overrides"]
        seed = int(request[0].split("=")[1])
        replications = int(request[2].split("=")[1])
        assert _job_settings(folder) == [(seed, replications)]
        assert (folder / "app.log").exists()
    time.sleep(1.0)  # the scheduler reaps every half second
    assert not [pid for pid, state in _children() if state == "Z"]


@pytest.mark.unit
def test_new_folders_never_collide(tmp_path: Path) -> None:
    bench = web().Workbench(tmp_path / "results", 1)
    folders: list[Path] = []
    threads = [threading.Thread(target=lambda: folders.append(bench.new_folder())) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(folders)) == 20 and all(f.is_dir() for f in folders)


@pytest.mark.system
def test_a_long_check_is_left_to_the_run_so_the_answer_comes_at_once(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep too large to check before answering, or a check that would wait for another's, is checked by
    the run's own child before any job starts: the answer comes at once, and a bad value is the run's error."""
    app = web()
    monkeypatch.setattr(app, "CHECK_NOW_JOBS", 1)
    bad = "pathway.recruitment.shortlisting=1.5"
    with serve(tmp_path / "results", max_runs=2) as base, api_client(base) as client:
        started = time.perf_counter()
        large = client.post("/api/runs", json={"overrides": [f"{bad},0.5", *QUICK]})
        assert large.status_code == 200 and time.perf_counter() - started < 2.0, large.text
        with app._PREFLIGHT:  # another request's check holds Hydra
            started = time.perf_counter()
            busy = client.post("/api/runs", json={"overrides": [bad, *QUICK]})
            assert busy.status_code == 200 and time.perf_counter() - started < app.LOCK_WAIT + 2.0, busy.text
        for answer in (large, busy):
            st = wait(client, answer.json()["id"])
            assert st["status"] == "failed" and "pathway.recruitment.shortlisting = 1.5: allowed: [0, 1]" in st["error"]
            assert st["jobs_done"] == 0


@pytest.mark.unit
def test_resume_runs_only_a_command_line_the_app_wrote(tmp_path: Path) -> None:
    Run, Workbench = web().Run, web().Workbench
    bench = Workbench(tmp_path / "results", 1)
    folder = bench.new_folder()
    Run(folder, ["-m", "+hydra.callbacks.x._target_=shutil.copyfile", "experiment.progress=false",
                 f"hydra.sweep.dir={folder}"], 1).save()  # a record changed on disk
    restarted = Workbench(tmp_path / "results", 1)
    run_id = restarted.run_id(folder)
    assert restarted.status(run_id)["status"] == "stopped"
    with pytest.raises(ValueError, match="Hydra settings are not accepted"):
        restarted.resume(run_id)
    assert not (folder / "app.log").exists() and restarted.status(run_id)["status"] == "stopped"


# ----------------------------------------------------------------------------- across restarts
def _record(results: Path, run_id: str) -> dict:
    return json.loads(results.joinpath(*run_id.split("~"), web().RECORD).read_text())


@pytest.mark.system
def test_a_restarted_app_finds_a_live_run(tmp_path: Path) -> None:
    results = tmp_path / "results"
    with serve(results, max_runs=1) as first, api_client(first) as client:
        run_id = client.post("/api/runs", json={"overrides": ["experiment.seed=5", *QUICK]}).json()["id"]
        deadline = time.time() + 30
        while client.get(f"/api/runs/{run_id}").json()["status"] != "running" and time.time() < deadline:
            time.sleep(0.2)
    pid = _record(results, run_id)["pid"]
    os.kill(pid, 0)  # the first app stopped; its run goes on
    with serve(results, max_runs=1) as second, api_client(second) as client:
        assert client.get(f"/api/runs/{run_id}").json()["status"] == "running"
        assert wait(client, run_id)["status"] == "done"


@pytest.mark.system
def test_a_stopped_run_shows_stopped_and_resumes_losing_no_finished_job(tmp_path: Path) -> None:
    results = tmp_path / "results"
    # twelve replications a job: long enough that the kill comes before the last job ends, on a fast machine too
    sweep = ["experiment.seed=1,2,3", "experiment.reference=0", "experiment=quick", "experiment.replications=12"]
    with serve(results, max_runs=1) as first, api_client(first) as client:
        run_id = client.post("/api/runs", json={"overrides": sweep}).json()["id"]
        folder = results.joinpath(*run_id.split("~"))
        deadline = time.time() + 240
        while not list(folder.glob("*/DONE")) and time.time() < deadline:
            time.sleep(0.2)
        pid = _record(results, run_id)["pid"]
        os.killpg(pid, signal.SIGSTOP)  # held where it is, however slowly this process gets on (a loaded machine)
    os.killpg(pid, signal.SIGKILL)  # the app and its child both gone
    os.waitpid(pid, 0)
    kept = {d.name: (d / "kpis.csv").read_bytes() for d in folder.iterdir() if (d / "DONE").exists()}
    assert 1 <= len(kept) < 3
    with serve(results, max_runs=1) as second, api_client(second) as client:
        st = client.get(f"/api/runs/{run_id}").json()
        assert st["status"] == "stopped" and st["resumable"] and f"{len(kept)} of 3" in st["error"], st
        with chromium(tmp_path / "profile") as browser:  # the page's Resume button, as a planner would
            from selenium.webdriver.common.by import By
            from selenium.webdriver.support.ui import WebDriverWait

            browser.get(second + "/")
            browser.find_element(By.CSS_SELECTOR, f'button.resume[data-run="{run_id}"]').click()
            WebDriverWait(browser, 30).until(lambda b: client.get(f"/api/runs/{run_id}").json()["status"]
                                             in ("queued", "running"))
            again = client.post(f"/api/runs/{run_id}/resume", json={})
            assert again.status_code == 409 and "allowed: resuming a run that is stopped" in again.json()["error"]
            WebDriverWait(browser, RUN_SECONDS).until(  # the page follows the run to its end
                lambda b: b.find_element(By.ID, "progress-text").text.split(":")[0] in ("done", "failed", "stopped"))
            assert browser.find_element(By.ID, "progress-text").text == "done"
        st = wait(client, run_id)
    assert st["status"] == "done" and st["jobs_done"] == 3, st
    assert {name: (folder / name / "kpis.csv").read_bytes() for name in kept} == kept
    assert "already complete, not rerun" in (folder / "app.log").read_text()


# ----------------------------------------------------------------------------- the command
@pytest.mark.parametrize("args", [["--port", "99999"], ["--port", "http"], ["--max-runs", "0"]])
@pytest.mark.system
def test_app_command_refuses_bad_options_in_one_line(args: list[str]) -> None:
    extra("fastapi", "app")
    done = run_cli(*args, tool="pathways-app", timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"pathways-app: error: {args[0]} {args[1]}")
    assert done.stdout == ""


@pytest.mark.system
def test_a_command_line_sweep_cut_short_is_shown_unfinished(tmp_path: Path) -> None:
    """A sweep started from the command line (no app record) that lost two of its three jobs: its manifest says
    three, so the app shows "1 of 3", not "done, 1 of 1" (what it showed counting the job folders it found)."""
    results = tmp_path / "results"
    folder = results / "2026-12-05" / "01-00-00-sweep"
    r = run_cli("-m", "experiment.seed=1,2,3", "experiment.reference=0", *QUICK, "experiment.progress=false",
                f"hydra.sweep.dir={folder}")
    assert r.returncode == 0, r.stderr
    for job in sorted(d for d in folder.iterdir() if (d / ".hydra").is_dir())[1:]:
        subprocess.run(["rm", "-r", str(job)], check=True)
    with serve(results, max_runs=1) as url, api_client(url) as client:
        st = client.get("/api/runs/2026-12-05~01-00-00-sweep").json()
    assert st["status"] != "done" and "1 of 3" in (st.get("error") or ""), st


def _group_alive(pid: int) -> list[int]:
    """The live processes of the process group `pid` leads (a stopped run's child and its workers)."""
    return [p for p, fields in _processes() if int(fields[2]) == pid and fields[0] not in ("Z", "X")]


@pytest.mark.system
def test_stop_ends_the_run_and_its_workers_keeps_finished_jobs_and_resumes(tmp_path: Path) -> None:
    """DELETE /api/runs/{id} (the page's Stop) ends the child and its worker processes within seconds, keeps the
    finished jobs, shows the run stopped (not failed), and Resume finishes it without redoing a finished job."""
    results = tmp_path / "results"
    # twelve replications a job: long enough that Stop comes before the last job ends, on a fast machine too
    sweep = ["experiment.seed=1,2,3", "experiment.reference=0", "experiment=quick", "experiment.replications=12",
             "experiment.workers=2"]
    with serve(results, max_runs=1) as base, api_client(base) as client:
        run_id = client.post("/api/runs", json={"overrides": sweep}).json()["id"]
        folder = results.joinpath(*run_id.split("~"))
        deadline = time.time() + RUN_SECONDS
        while not list(folder.glob("*/DONE")) and time.time() < deadline:
            time.sleep(0.2)
        pid = _record(results, run_id)["pid"]
        assert _group_alive(pid), "the run ended before it could be stopped"
        started = time.perf_counter()
        with ThreadPoolExecutor(1) as thread:
            with held(pid):  # where the first job ended, however long this process takes to press Stop
                stopping = thread.submit(client.delete, f"/api/runs/{run_id}")
            r = stopping.result()
        seconds = time.perf_counter() - started
        assert r.status_code == 200, r.text
        st = r.json()
        assert st["status"] == "stopped" and st["resumable"] and not st["stoppable"], st
        assert seconds < web().STOP_SECONDS + 2.0, seconds
        assert _group_alive(pid) == []  # the child and its workers
        kept = {d.name: (d / "kpis.csv").read_bytes() for d in folder.iterdir() if (d / "DONE").exists()}
        assert 1 <= len(kept) < 3 and f"{len(kept)} of 3" in st["error"], st
        options = st["about"]["options"]
        assert st["about"]["replications"] == 12 and st["about"]["first_look"] and st["started"] and st["took"]
        again = client.delete(f"/api/runs/{run_id}")
        assert again.status_code == 409 and "allowed: stopping a run that is queued or running" in again.json()["error"]
        assert "stopped" in client.get("/runs").text and "failed" not in client.get("/runs").text
        assert client.post(f"/api/runs/{run_id}/resume", json={}).status_code == 200
        st = wait(client, run_id)
    assert st["status"] == "done" and st["jobs_done"] == 3, st
    assert {name: (folder / name / "kpis.csv").read_bytes() for name in kept} == kept
    assert "already complete, not rerun" in (folder / "app.log").read_text()
    assert options == [j.label for j in find_jobs(folder)]  # named as the report names them, before they ran


@pytest.mark.system
def test_a_queued_run_stops_without_starting(tmp_path: Path) -> None:
    with serve(tmp_path / "results", max_runs=1) as base, api_client(base) as client:
        first = client.post("/api/runs", json={"overrides": ["experiment.seed=1", *QUICK]}).json()["id"]
        queued = client.post("/api/runs", json={"overrides": ["experiment.seed=2", *QUICK]}).json()["id"]
        assert client.get(f"/api/runs/{queued}").json()["status"] == "queued"
        st = client.delete(f"/api/runs/{queued}").json()
        assert st["status"] == "stopped" and st["jobs_done"] == 0, st
        assert wait(client, first)["status"] == "done"
        assert client.get(f"/api/runs/{queued}").json()["status"] == "stopped"  # never started
        assert not (tmp_path / "results").joinpath(*queued.split("~"), "app.log").exists()


# ----------------------------------------------------------------------------- the optimiser from the page
@pytest.mark.system
def test_optimiser_budget_is_checked_on_the_server_and_refusals_write_nothing(app: tuple[str, Path]) -> None:
    base, results = app
    low, high = web().BUDGET_RANGE
    before = sorted(results.rglob("*"))
    form = {"mode": "interventions", "interventions": ["childcare"], "experiment": "quick"}
    with api_client(base) as client:
        for budget in (0, low - 1, high * 2, -5e5):
            r = client.post("/api/optimise", json={**form, "budget": budget})
            assert r.status_code == 400 and r.json()["field"] == "budget", r.text
            assert f"from {low:,.0f} to {high:,.0f}" in r.json()["error"], r.text
        r = client.post("/api/optimise", json={**form, "budget": "lots"})
        assert r.status_code == 400 and "budget" in r.json()["error"], r.text
        r = client.post("/api/optimise", json={**form, "budget": 1e6, "region": "../../etc"})
        assert r.status_code == 400, r.text
        r = client.post("/api/optimise", json={**form, "mode": "sizes", "sized": "childcare", "sizes": "0,10",
                                               "budget": 1e6})
        assert r.status_code == 400 and r.json()["field"] == "mode", r.text
        for numbers in ({"hydra.run.dir": 1}, {"_target_": "os.system"},
                        {"pathway.recruitment.shortlisting": "${oc.env:HOME}"}):  # model parameters only
            r = client.post("/api/optimise", json={**form, "budget": 1e6, "numbers": numbers})
            assert r.status_code == 400 and "\n" not in r.json()["error"], r.text
    for headers in ({"X-Pathways-Token": "guess"}, {"Origin": "http://evil.example"}):
        r = httpx.post(base + "/api/optimise", json={**form, "budget": 1e6}, headers=headers)
        assert r.status_code == 403, r.text
    assert sorted(results.rglob("*")) == before


@pytest.mark.unit
def test_an_optimiser_record_is_resumed_only_as_the_app_wrote_it(tmp_path: Path) -> None:
    w = web()
    bench = w.Workbench(tmp_path / "results", 1)
    folder = bench.new_folder("optimise")
    ok = w.optimise_argv(folder, 250_000, ["intervention=[],[childcare]", "experiment=quick"])
    w.Run(folder, ok, 2, kind="optimise").check()  # as written: accepted
    for argv in (w.optimise_argv(tmp_path / "elsewhere", 250_000, ["experiment=quick"]),  # another folder
                 w.optimise_argv(folder, 1e12, ["experiment=quick"]),  # a budget the page refuses
                 [*ok[:w.OPTIMISE_ARGS], "--ray-address", "10.0.0.1:6379"],  # an option the page never sends
                 [*ok[:w.OPTIMISE_ARGS], "+hydra.callbacks.x._target_=shutil.copyfile"]):
        with pytest.raises(ValueError):
            w.Run(folder, argv, 2, kind="optimise").check()


# ----------------------------------------------------------------------------- a region uploaded on the page
def _upload(client: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return client.post("/api/regions", params={"name": name}, content=data,
                       headers={"Content-Type": "application/octet-stream"})


@pytest.mark.system
def test_an_uploaded_region_workbook_is_checked_cell_by_cell_and_written_only_as_a_new_region(
        app: tuple[str, Path], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from sim.interfaces.region import main as region
    from sim.params.paths import CONFIG_DIR

    base, results = app
    configs = results.parent / "configs"  # the test server's configs folder (tests/appserver.py)
    book = tmp_path / "area.xlsx"
    region(["template", str(book)])
    good = book.read_bytes()
    wb = load_workbook(book)
    ws = wb["Staff by role"]
    top = next(r for r in range(1, 30) if ws.cell(r, 1).value == "Group")
    est = next(j for j in range(1, ws.max_column + 1) if ws.cell(top, j).value == "Establishment (posts)")
    ws.cell(top + 1, est, -5)
    ws.cell(top + 2, est, "lots")
    wb.save(tmp_path / "bad.xlsx")
    shipped = sorted(p.read_bytes() for p in (CONFIG_DIR / "region").glob("*.yaml"))
    with api_client(base) as client:
        refused = {
            "not a workbook": _upload(client, "my_area", b"name: not a workbook\n"),
            "a zip that is not a workbook": _upload(client, "my_area", b"PK\x03\x04" + b"\0" * 100),
            "bad cells": _upload(client, "my_area", (tmp_path / "bad.xlsx").read_bytes()),
            "a shipped name": _upload(client, "norfolk_waveney", good),
            "a path": _upload(client, "../../etc/passwd", good),
            "a path in the name": _upload(client, "region/x", good),
            "no name": _upload(client, "", good),
            "too big": _upload(client, "big_area", good + b"\0" * web().MAX_UPLOAD),
        }
        for why, r in refused.items():
            assert r.status_code in (400, 413) and "\n" not in r.json()["error"], (why, r.text)
        assert "not an .xlsx workbook" in refused["not a workbook"].json()["error"]
        assert "not an .xlsx workbook" in refused["a zip that is not a workbook"].json()["problems"][0]
        bad = refused["bad cells"].json()
        assert bad["error"] == "the uploaded workbook (my_area.xlsx): 2 problems, nothing written:", bad
        for line, cell in zip(bad["problems"], (f"{chr(64 + est)}{top + 1}", f"{chr(64 + est)}{top + 2}")):
            assert "sheet 'Staff by role'" in line and cell in line and "allowed" in line, bad
        assert "exists" in refused["a shipped name"].json()["error"]
        for headers in ({"X-Pathways-Token": "guess"}, {"Origin": "http://evil.example"}):  # only its own page
            r = httpx.post(base + "/api/regions", params={"name": "my_area"}, content=good,
                           headers={"Content-Type": "application/octet-stream", **headers})
            assert r.status_code == 403, r.text
        assert not configs.exists() or not list(configs.rglob("*.yaml"))  # nothing written so far
        made = _upload(client, "my_area", good)
        assert made.status_code == 200, made.text
        assert made.json()["name"] == "my_area" and made.json()["file"] == "region/my_area.yaml"
        text = (configs / "region" / "my_area.yaml").read_text()
        assert "my_area.xlsx" in text  # every number says where it came from
        again = _upload(client, "my_area", good)  # never over a file written before
        assert again.status_code == 400 and "exists" in again.json()["error"]
        assert (configs / "region" / "my_area.yaml").read_text() == text
    assert sorted(p.read_bytes() for p in (CONFIG_DIR / "region").glob("*.yaml")) == shipped
    assert not (CONFIG_DIR / "region" / "my_area.yaml").exists()
    assert sorted(p.name for p in results.parent.rglob("*.xlsx")) == []  # the upload's temporary copy is gone
