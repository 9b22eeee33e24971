"""The dashboard (README "Dashboard"): its files over plain HTTP (both
builds), then the pages in headless Chromium driven by Selenium: log in,
start a job and watch its output arrive line by line, cancel one, see a
condition graph gain points, see a target go unreachable, run a pipeline and
an action. Every page is screenshotted into the artifacts directory, and
any SEVERE message in the browser's console fails the test that caused it.

The browser scenarios are skipped under the sanitizer build (CI time) and
when chromium or chromedriver is missing; the plain HTTP test always runs.
"""

import html.parser
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import (JOB_FAILURE, JOB_RUNNING, OP_UNREACHABLE, SANITIZER, STEWARD_BIN, TOKEN, Server, free_port,
                      qs, request, wait_for)

POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
          "style-src-elem 'self' 'unsafe-inline'; style-src-attr 'none'; connect-src 'self'; img-src 'self' data:; "
          "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000"]
LINES = 8


def artifacts_dir():
    root = os.environ.get("STEWARD_ARTIFACTS") or str(Path(STEWARD_BIN).resolve().parent / "artifacts")
    path = Path(root) / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def server(tmp_root):
    task_file = tmp_root / "tasks.yaml"
    task_file.write_text("pipelines:\n  hello:\n    start:\n      - name: greet\n        shell_exec: echo hello\n")
    inventory = ("localhost ansible_connection=local\n"
                 "web1 ansible_connection=local\n"
                 "web2 ansible_connection=local\n"
                 "cond ansible_connection=local\n"
                 # Nothing listens there: a run on it ends Unreachable.
                 f"down ansible_host=127.0.0.1 ansible_port={free_port()} ansible_user=nobody\n")
    srv = Server(tmp_root / "data", inventory=inventory, grpc=True,
                 extra_args=["--tasks", str(task_file), "--agent-listen", f"127.0.0.1:{free_port()}",
                             "--callback", f"127.0.0.1:{free_port()}"]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(tmp_root):
    if SANITIZER:
        pytest.skip("browser scenarios skipped under the sanitizer build (the plain HTTP test runs)")
    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver")
                                                    else None)
    if not chromium or not chromedriver:
        pytest.skip("chromium or chromedriver is not installed (scripts/install-deps.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_root / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(30)
    print(f"\ndashboard screenshots: {artifacts_dir()}")
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, server):
    """The logged-in browser; fails the test on any SEVERE console message it caused."""
    if not browser.execute_script("return location.href.startsWith(arguments[0])", server.url) or \
            not browser.execute_script("return sessionStorage.getItem('steward.token')"):
        log_in(browser, server)
    browser.get_log("browser")  # drops what came before this test
    yield browser
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, f"browser console errors: {errors}"


@pytest.fixture
def executor(server):
    from executor_client import Executor
    client = Executor(server.grpc_addr)
    yield client
    client.close()


# ---------------------------------------------------------------- helpers

def log_in(driver, server):
    driver.get(server.url + "/")
    field = wait_for(lambda: first(driver, "#token"), what="the login form")
    field.send_keys(TOKEN)
    driver.find_element("css selector", "#login-submit").click()
    wait_for(lambda: first(driver, "#jobs-body"), what="the jobs page after logging in")


def first(driver, selector):
    found = driver.find_elements("css selector", selector)
    return found[0] if found else None


def text_of(driver, selector):
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : ''",
                                 selector)


def terminal_text(driver):
    return driver.execute_script(
        "const rows = document.querySelector('#terminal .xterm-rows');"
        "return rows ? Array.from(rows.children).map((row) => row.textContent).join('\\n') : ''")


def screenshot(driver, name):
    path = artifacts_dir() / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 0


def go(driver, hash_route, ready_selector):
    driver.execute_script("location.hash = arguments[0]", hash_route)
    return wait_for(lambda: first(driver, ready_selector), what=f"{ready_selector} on {hash_route}")


def start_from_run_page(driver, targets, cmd):
    go(driver, "#/run", "#run")
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element("css selector", "#run-operation")).select_by_value("execute")
    driver.find_element("css selector", "#run-targets").send_keys(targets)
    driver.find_element("css selector", "#run-cmd").send_keys(cmd)
    driver.find_element("css selector", "#run-submit").click()
    jid = wait_for(lambda: (re.match(r"^#/job/([\w-]+)$", driver.execute_script("return location.hash")) or [None, None])[1],
                   what="the job page of the started job")
    wait_for(lambda: first(driver, "#terminal .xterm-rows"), what="the terminal")
    return jid


class AssetLinks(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []
        self.inline_scripts = 0
        self.inline_styles = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if attrs.get("src"):
                self.links.append(attrs["src"])
            else:
                self.inline_scripts += 1
        if tag == "link" and attrs.get("href", "").startswith("/ui/"):
            self.links.append(attrs["href"])
        if tag == "style" or "style" in attrs:
            self.inline_styles += 1


def module_imports(path, text):
    base = path.rsplit("/", 1)[0]
    out = []
    for relative in re.findall(r"from '(\.{1,2}/[^']+)'", text):
        parts = (base + "/" + relative).split("/")
        resolved = []
        for part in parts:
            if part == "..":
                resolved.pop()
            elif part not in (".", ""):
                resolved.append(part)
        out.append("/" + "/".join(resolved))
    return out


# ---------------------------------------------------------------- plain HTTP (every build)

def test_page_and_every_asset_over_plain_http(server, api):
    browser_accept = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    page = request(server.addr, "GET", "/", token=None, headers=browser_accept)
    assert page.status == 200, page
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    parser = AssetLinks()
    parser.feed(page.body)
    assert parser.inline_scripts == 0 and parser.inline_styles == 0, "the page must not need 'unsafe-inline'"
    assert "/ui/app.js" in parser.links and "/ui/vendor/xterm.js" in parser.links, parser.links

    expected_types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    queue, fetched = list(parser.links), set()
    while queue:
        path = queue.pop()
        if path in fetched:
            continue
        fetched.add(path)
        reply = request(server.addr, "GET", path, token=None)
        assert reply.status == 200, f"{path}: {reply.status} {reply.body!r}"
        assert reply.headers["content-type"] == expected_types[Path(path).suffix], path
        assert reply.headers["content-security-policy"] == POLICY, path
        assert reply.headers["x-content-type-options"] == "nosniff", path
        assert reply.headers["cache-control"] == "no-cache", path
        assert "http://" not in reply.body and "https://cdn" not in reply.body or "vendor" in path, path
        if path.endswith(".js") and "/vendor/" not in path:
            queue += module_imports(path, reply.body)
    assert {"/ui/pages/job.js", "/ui/pages/conditions.js", "/ui/api.js"} <= fetched, fetched

    etag = request(server.addr, "GET", "/ui/app.js", token=None).headers["etag"]
    unchanged = request(server.addr, "GET", "/ui/app.js", token=None, headers={"If-None-Match": etag})
    assert unchanged.status == 304 and unchanged.body in ("", None), unchanged

    # API clients keep the EXEd root: JSON, and a token is needed for it.
    for accept in (None, "*/*", "application/json", "text/html, application/json"):
        headers = {"Accept": accept} if accept else {}
        assert request(server.addr, "GET", "/", token=None, headers=headers).status == 401, accept
        about = request(server.addr, "GET", "/", headers=headers)
        assert about.status == 200 and about.headers["content-type"] == "application/json", (accept, about)
        assert about.body["name"] == "steward" and "version" in about.body

    for missing in ("/ui/nothing.js", "/ui/pages", "/ui/pages/", "/ui/package-lock.json", "/ui/vendor/"):
        reply = request(server.addr, "GET", missing, token=None)
        assert reply.status == 404 and reply.headers["content-type"] == "application/json", (missing, reply)
        assert "no such dashboard file" in reply.body["message"]
    # No listing of the folder itself: no route, so as any unknown path (a token gets the 404).
    assert request(server.addr, "GET", "/ui/").status == 404


def test_targets_detail_reports_reachability(api):
    names = api.get("/targets")
    assert names.status == 200 and names.body == ["localhost", "web1", "web2", "cond", "down"], names.body
    api.run("/ping", {"targets": ["web2", "down"]}, timeout=60)
    detail = api.get(qs("/targets", detail=1, pattern="web2,down,web1"))
    assert detail.status == 200, detail
    by_name = {entry["name"]: entry for entry in detail.body}
    assert by_name["web2"]["transport"] == "local" and by_name["web2"]["reachable"] is True
    assert by_name["web2"]["last_seen"] > time.time() - 120 and by_name["web2"]["last_error"] is None
    assert by_name["down"]["transport"] == "ssh" and by_name["down"]["reachable"] is False
    assert by_name["down"]["last_error"], by_name["down"]
    assert by_name["web1"] == {"name": "web1", "transport": "local", "reachable": None, "last_seen": None,
                               "last_error": None}


# ---------------------------------------------------------------- in the browser

def test_log_in_keeps_the_token_out_of_urls(browser, server):
    browser.delete_all_cookies()
    browser.get(server.url + "/")
    browser.execute_script("sessionStorage.clear()")
    browser.get(server.url + "/")
    wait_for(lambda: first(browser, "#token"), what="the login form")
    screenshot(browser, "login")
    log_in(browser, server)
    assert browser.execute_script("return sessionStorage.getItem('steward.token')") == TOKEN
    assert TOKEN not in browser.current_url
    assert browser.execute_script("return localStorage.length") == 0
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors


def test_job_output_arrives_line_by_line(page, api):
    script = (f"for i in $(seq 1 {LINES}); do printf '\\033[32mline %s\\033[0m\\n' $i; sleep 0.3; done")
    jid = start_from_run_page(page, "web1", script)
    wait_for(lambda: "line 1" in terminal_text(page), timeout=15, what="line 1 in the terminal")
    assert api.job(jid)["state"] == JOB_RUNNING, "line 1 must show while the job still runs"
    assert f"line {LINES}" not in terminal_text(page)
    wait_for(lambda: f"line {LINES}" in terminal_text(page), timeout=15, what=f"line {LINES} in the terminal")
    shown = terminal_text(page)
    assert all(f"line {i}" in shown for i in range(1, LINES + 1)), shown
    # The ANSI colour reached the terminal as a colour, not as escape text.
    assert page.execute_script("return document.querySelectorAll('#terminal .xterm-rows span.xterm-fg-2').length") > 0
    assert "[32m" not in shown
    wait_for(lambda: text_of(page, "#job-state") == "done", timeout=15, what="the job's state done")
    wait_for(lambda: text_of(page, "tr[data-target='web1'] td.status") == "changed" or
             text_of(page, "tr[data-target='web1'] td.status") == "ok", what="web1's row finished")
    screenshot(page, "job")

    # Started from the dashboard, recorded like any REST call.
    audit = api.get("/audit")
    assert audit.status == 200, audit
    entries = audit.body if isinstance(audit.body, list) else audit.body.get("entries", [])
    assert any(jid in str(entry) and "execute" in str(entry) for entry in entries), entries[-5:]


def test_cancel_a_running_job_from_its_page(page, api):
    jid = start_from_run_page(page, "web2", "echo started; sleep 60")
    wait_for(lambda: "started" in terminal_text(page), timeout=15, what="the job to start")
    page.find_element("css selector", "#cancel").click()
    wait_for(lambda: text_of(page, "#job-state") == "failure", timeout=15, what="the job to end cancelled")
    assert "cancel" in text_of(page, "#job-error"), text_of(page, "#job-error")
    assert not page.find_element("css selector", "#cancel").is_displayed()
    job = api.wait_job(jid, timeout=15)
    assert job["state"] == JOB_FAILURE and "cancel" in job["error"], job
    screenshot(page, "job-cancelled")


def test_jobs_page_lists_and_filters(page, api):
    jid = api.submit("/ping", {"targets": ["localhost"]})
    api.wait_job(jid)
    go(page, "#/jobs", "#jobs-body")
    wait_for(lambda: first(page, f"tr[data-jid='{jid}']"), what="the job in the list")
    from selenium.webdriver.support.ui import Select
    Select(page.find_element("css selector", "#filter-operation")).select_by_value("ping")
    operations = lambda: page.execute_script(
        "return Array.from(document.querySelectorAll('#jobs-body tr td:nth-child(2)')).map((cell) => cell.textContent)")
    wait_for(lambda: operations() and set(operations()) == {"ping"}, what="only ping jobs listed")
    screenshot(page, "jobs")


def test_condition_graph_gains_points(page, api, executor):
    from deputy_packages import StreamReader
    cid = executor.create_condition("cond", command="date +%S", interval=1)
    reader = StreamReader(executor, cid)
    try:
        go(page, "#/conditions", "#conditions")
        card = f"section[data-condition='{cid}']"
        points = lambda: int(page.execute_script(
            "const c = document.querySelector(arguments[0]); return c ? Number(c.dataset.points || 0) : 0", card))
        first_count = wait_for(points, timeout=15, what="a first point on the graph")
        wait_for(lambda: points() > first_count, timeout=15, what="the graph to gain a point")
        assert page.execute_script("return document.querySelector(arguments[0] + ' canvas').width", card) > 0
        screenshot(page, "conditions")
    finally:
        reader.cancel()
        executor.delete_condition(cid)


def test_a_target_goes_unreachable(page, api):
    go(page, "#/targets", "tr[data-target='down']")
    first(page, "tr[data-target='down'] button").click()
    badge = "tr[data-target='down'] .badge"
    wait_for(lambda: text_of(page, badge) == "unreachable", timeout=30, what="down shown unreachable")
    assert text_of(page, "tr[data-target='down'] td.error"), "the unreachable run's error is shown"
    assert text_of(page, "tr[data-target='localhost'] td:nth-child(2)") == "local"
    assert first(page, "#agents") and first(page, "#callbacks")
    screenshot(page, "targets")
    detail = {entry["name"]: entry for entry in api.get(qs("/targets", detail=1)).body}
    assert detail["down"]["reachable"] is False


def test_run_a_pipeline_and_an_action(page, api):
    go(page, "#/pipelines", "section[data-pipeline='hello'] button")
    screenshot(page, "pipelines")
    first(page, "form[data-action='steward:ping'] input").send_keys("localhost")
    first(page, "form[data-action='steward:ping'] button").click()
    wait_for(lambda: text_of(page, ".action-run .badge") == "succeeded", timeout=20, what="the action to succeed")
    duration = first(page, "section[data-pipeline='hello'] input")
    duration.clear()
    duration.send_keys("1")  # seconds between the start and stop stages
    first(page, "section[data-pipeline='hello'] button").click()
    wait_for(lambda: re.match(r"^#/job/", page.execute_script("return location.hash")), what="the run's job page")
    wait_for(lambda: text_of(page, "#job-state") in ("done", "failure"), timeout=20, what="the pipeline run to end")
    assert text_of(page, "#job-state") == "done", text_of(page, "#job-summary")
    wait_for(lambda: "greet" in terminal_text(page) or "hello" in terminal_text(page), what="the run's output")
