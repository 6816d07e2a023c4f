#!/usr/bin/env python3
"""Drives sisopi-api's web page in Debian's Chromium (headless, through chromedriver) the way
a school's secretary uses it, and checks what the page shows at every step.

  drive.py --url http://127.0.0.1:PORT/ --user anna --password-file FILE --school Gym1
           --role student --csv FILE --expect created=3,rejected=0 --artifacts DIR
           --downloads DIR --result FILE

Steps: a wrong password shows an error and keeps no token; log in; choose school and role;
pick the CSV; dry run (the counts shown must equal --expect); start; wait for "finished" (the
counts must equal --expect again); download the summary (and with --passwords the first
passwords); the recent imports list both jobs; with --guard-csv, a dry run the deletion guard
would hold shows its warning (and with --guard-start, started, is shown held); with
--restart-cmd, the server restarted ends the session and the page says so; with
--hostile-csv, a dry run of a file with markup in its name and rows shows it as text; the
page at phone width; log out; a browser that prefers German shows the German page. A PNG
screenshot of every step goes to --artifacts (each path printed); --result gets a JSON object
with the import ids and the downloaded files' paths for the calling test to check further.
Every wait is bounded. Exit 0 when every check holds, 1 when one fails, 2 when the browser
cannot be started (the calling test fails then too: it never skips).
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as e:  # the calling test reports it and fails
    print(f"drive.py: python3-selenium is missing: {e}", file=sys.stderr)
    sys.exit(2)

FINAL = ("finished", "held", "incomplete", "aborted")
COUNT_KEYS = ("created", "modified", "unchanged", "school_removed", "to_limbo",
              "reactivated", "rejected")


class CheckFailed(Exception):
    pass


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True,
                   help="file holding the user's password (never on the command line)")
    p.add_argument("--school", required=True)
    p.add_argument("--role", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--expect", required=True,
                   help="counts both the dry run and the import must show: k=v,k=v (others 0)")
    p.add_argument("--artifacts", required=True, help="directory for the screenshots")
    p.add_argument("--downloads", required=True, help="directory the browser downloads to")
    p.add_argument("--result", required=True, help="JSON file written at the end")
    p.add_argument("--passwords", action="store_true",
                   help="the server generates first passwords: the finished import must offer "
                        "passwords.csv, which is downloaded too")
    p.add_argument("--guard-csv",
                   help="after the import, a file whose dry run the deletion guard would hold")
    p.add_argument("--guard-text", default="",
                   help="what the guard's warning must say then, e.g. '1 of 3'")
    p.add_argument("--guard-start", action="store_true",
                   help="then start that import too: the page must show it held")
    p.add_argument("--restart-cmd",
                   help="a command that restarts sisopi-api on the same address: every "
                        "session ends (tokens live in the process only); the page must send "
                        "the user back to the login form, and the jobs must still be listed "
                        "after logging in again")
    p.add_argument("--hostile-csv",
                   help="a file whose name and rows hold markup: dry-run it, nothing of it "
                        "may become an element of the page")
    p.add_argument("--chromium", default="/usr/lib/chromium/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    p.add_argument("--timeout", type=int, default=20, help="seconds for each page step")
    p.add_argument("--import-timeout", type=int, default=180,
                   help="seconds for the import to reach a final status")
    return p.parse_args()


class Driver:
    """One headless Chromium with its own profile, downloads and language."""

    shots = 0  # shared: the screenshots of both browsers are numbered in order

    def __init__(self, args, lang, downloads):
        self.args = args
        self.profile = tempfile.mkdtemp(prefix="sisopi-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = args.chromium
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                  "--disable-extensions", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--window-size=1280,900", f"--user-data-dir={self.profile}",
                  f"--lang={lang}"):
            opts.add_argument(a)
        opts.add_experimental_option("prefs", {
            "intl.accept_languages": lang,
            "download.default_directory": downloads,
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        })
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=args.chromedriver,
                          log_path=os.path.join(args.artifacts, "chromedriver.log"))
        try:
            self.d = webdriver.Chrome(service=service, options=opts)
        except WebDriverException:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.d.set_page_load_timeout(args.timeout)
        self.d.execute_cdp_cmd("Browser.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": downloads})


    def quit(self):
        try:
            self.d.quit()
        except WebDriverException:
            pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def wait(self, what, cond, timeout=None):
        try:
            return WebDriverWait(self.d, timeout or self.args.timeout, poll_frequency=0.2) \
                .until(lambda d: cond())
        except TimeoutException:
            raise CheckFailed(f"{what}: not reached within {timeout or self.args.timeout} s") \
                from None

    def el(self, id_):
        return self.d.find_element(By.ID, id_)

    def visible(self, id_):
        els = self.d.find_elements(By.ID, id_)
        return bool(els) and els[0].is_displayed()

    def text(self, id_):
        return self.el(id_).text.strip()

    def shot(self, name):
        Driver.shots += 1
        path = os.path.join(self.args.artifacts, f"{Driver.shots:02d}-{name}.png")
        # The whole page, not only the window: the result and the jobs list are below the fold.
        size = self.d.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        png = self.d.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"],
                     "height": min(size["height"], 6000), "scale": 1}})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(png))
        print(f"drive.py: screenshot {path}")
        return path

    def csp_violations(self):
        out = []
        for entry in self.d.get_log("browser"):
            msg = entry.get("message", "")
            if "Content Security Policy" in msg or "Content-Security-Policy" in msg:
                out.append(msg)
        return out

    def storage_is_empty(self):
        return self.d.execute_script(
            "return localStorage.length === 0 && sessionStorage.length === 0 "
            "&& document.cookie === '';")


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def parse_expect(spec):
    want = {k: 0 for k in COUNT_KEYS}
    for item in filter(None, spec.split(",")):
        k, v = item.split("=", 1)
        if k not in want:
            raise SystemExit(f"drive.py: --expect: unknown count {k!r}")
        want[k] = int(v)
    return want


def shown_counts(b):
    got = {}
    for k in COUNT_KEYS:
        cell = b.d.find_element(By.CSS_SELECTOR, f'[data-testid="count-{k}"]')
        got[k] = int(cell.text.strip())
    return got


def job_status(b):
    return b.el("job-status").get_attribute("data-status") or ""


def login(b, user, password, keyboard=False):
    b.el("username").clear()
    b.el("password").clear()
    if keyboard:
        # As a keyboard user does: in the name field, Tab goes to the password, Enter
        # submits.
        b.el("username").click()
        check(b.d.switch_to.active_element == b.el("username"),
              "the user name field has the focus")
        ActionChains(b.d).send_keys(user, Keys.TAB, password, Keys.ENTER).perform()
        return
    b.el("username").send_keys(user)
    b.el("password").send_keys(password)
    b.el("login-submit").click()


def guard_dry_run(b, path, text):
    name = os.path.basename(path)
    b.el("file").send_keys(os.path.abspath(path))
    b.el("dryrun-btn").click()
    b.wait("the dry run the guard would hold",
           lambda: b.text("job-kind") == "Dry run" and b.text("job-filename") == name
           and job_status(b) == "finished")
    b.wait("the upload done", lambda: b.el("dryrun-btn").is_enabled())
    check(b.visible("guard-warning"), "the guard's warning is shown")
    warning = b.text("guard-warning")
    check("The deletion guard would hold this import." in warning and text in warning,
          f"the guard's warning says so and says {text!r}: {warning!r}")
    check(b.el("guard-warning").get_attribute("role") == "alert",
          "the guard's warning is announced (role=alert)")
    b.shot("guard-warning")


def guard_start(b, args):
    dry_id = b.text("job-id")
    b.wait("start is enabled after the dry run", lambda: b.el("start-btn").is_enabled())
    b.el("start-btn").click()
    b.wait("the held import's job", lambda: b.text("job-kind") == "Import"
           and b.text("job-id") not in ("", "–", dry_id))
    b.wait("a final status", lambda: job_status(b) in FINAL, args.import_timeout)
    check(job_status(b) == "held", f"the import is held: {job_status(b)!r}")
    warning = b.text("guard-warning")
    check("holds this import" in warning and args.guard_text in warning,
          f"the page says the guard holds it, and why: {warning!r}")
    check("Held" in b.text("status"), f"the live region announced it: {b.text('status')!r}")
    b.shot("held")
    return b.text("job-id")


def listed_ids(b):
    return [tr.get_attribute("data-job-id")
            for tr in b.d.find_elements(By.CSS_SELECTOR, "#jobs-table tbody tr")]


def session_ends(b, args, password, result):
    try:
        subprocess.run([args.restart_cmd], check=True, timeout=90)
    except (subprocess.SubprocessError, OSError) as e:
        raise CheckFailed(f"restarting the server ({args.restart_cmd}) failed: {e}") from None
    b.el("jobs-refresh").click()
    b.wait("the login form once the session has ended", lambda: b.visible("login-section"))
    check("session has ended" in b.text("login-error"),
          f"the login form says the session has ended: {b.text('login-error')!r}")
    check(not b.visible("app-section"), "nothing of the old session is shown")
    b.shot("session-ended")
    login(b, args.user, password, keyboard=True)
    b.wait("logged in again", lambda: b.visible("app-section"))
    check(not b.visible("login-error") and not b.visible("import-error"),
          "no error of the old session is left on the page")
    b.wait("the jobs still listed after the restart",
           lambda: result["import_id"] in listed_ids(b))


# Markup in a file's name and rows is text on the page: the ids below must never exist.
HOSTILE_IDS = "#pwned, #pwned-row"


def hostile_dry_run(b, path):
    name = os.path.basename(path)
    b.el("file").send_keys(os.path.abspath(path))
    b.el("dryrun-btn").click()
    b.wait("the hostile file's dry run or refusal",
           lambda: (b.text("job-kind") == "Dry run" and b.text("job-filename") == name)
           or b.text("job-heading") == "File not accepted")
    b.wait("the upload done", lambda: b.el("dryrun-btn").is_enabled())
    shown = b.text("job-filename") if b.visible("job-facts") else ""
    rows = [tr.text for tr in b.d.find_elements(By.CSS_SELECTOR, "#errors-table tbody tr")]
    check(shown == name or any(name in r for r in rows),
          f"the file's name is shown as text: {shown!r} {rows!r}")
    check(any("<img" in r for r in rows) or "<img" in shown,
          "the markup is shown as text, not dropped")
    check(not b.d.find_elements(By.CSS_SELECTOR, HOSTILE_IDS),
          "markup from the file became an element of the page")
    b.shot("hostile-file")


def download(b, args, button, want_name):
    """Clicks a download button; returns the path of the file the browser saved."""
    before = set(os.listdir(args.downloads))
    b.el(button).click()

    def downloaded():
        new = [f for f in set(os.listdir(args.downloads)) - before
               if not f.endswith(".crdownload")]
        return new[0] if new else None
    name = b.wait(f"{want_name} downloaded", downloaded)
    check(name == want_name, f"the downloaded file's name: {name!r}, not {want_name!r}")
    path = os.path.join(args.downloads, name)
    print(f"drive.py: downloaded {path}")
    b.wait("the download announced", lambda: name in b.text("status"))
    return path


def english_run(args, password, want, result):
    b = Driver(args, "en-US", args.downloads)
    try:
        b.d.get(args.url)
        b.wait("the page is ready",
               lambda: b.d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        check(b.d.execute_script("return document.documentElement.lang") == "en",
              "an English browser gets the English page")
        check(b.text("login-heading") == "Log in", "the login form's heading is English")
        check(b.d.switch_to.active_element == b.el("username"),
              "the user name field has the focus when the page opens")

        # A wrong password: an error, still the login form, no token anywhere.
        login(b, args.user, password + "-wrong")
        b.wait("the error of a wrong password", lambda: b.visible("login-error"))
        check("wrong" in b.text("login-error"),
              f"the login error says the password is wrong: {b.text('login-error')!r}")
        check(not b.visible("app-section"), "no import form after a wrong password")
        check(not b.visible("logout"), "no log-out button after a wrong password")
        check(b.storage_is_empty(), "no token in storage or cookies after a wrong password")
        check(b.el("password").get_attribute("value") == "", "the wrong password is cleared")
        b.shot("wrong-password")

        # Log in, with the keyboard only.
        login(b, args.user, password, keyboard=True)
        b.wait("the import form after logging in", lambda: b.visible("app-section"))
        check(not b.visible("login-section"), "the login form is gone")
        check(args.user in b.text("whoami"), f"the header names the user: {b.text('whoami')!r}")
        check(b.storage_is_empty(), "the token is kept in memory only")
        b.wait("the schools are listed",
               lambda: any(o.get_attribute("value") == args.school
                           for o in Select(b.el("school")).options))
        unlabelled = b.d.execute_script(
            "return Array.from(document.querySelectorAll('input, select, button'))"
            ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')"
            " && !e.textContent.trim()).map(e => e.id || e.outerHTML);")
        check(not unlabelled, f"every control has a label or a name: {unlabelled}")
        b.shot("logged-in")

        # Choose school and role, pick the file.
        Select(b.el("school")).select_by_value(args.school)
        b.wait("the role is offered",
               lambda: any(o.get_attribute("value") == args.role
                           for o in Select(b.el("role")).options))
        Select(b.el("role")).select_by_value(args.role)
        b.el("file").send_keys(os.path.abspath(args.csv))
        check(not b.el("start-btn").is_enabled(), "start is disabled before a dry run")
        b.shot("file-chosen")

        # Dry run.
        t0 = time.monotonic()
        b.el("dryrun-btn").click()
        b.wait("the dry run's result",
               lambda: b.visible("job-section") and b.text("job-kind") == "Dry run"
               and job_status(b) == "finished", args.import_timeout)
        # Figures for the notes, never a pass/fail threshold.
        result["dry_run_seconds"] = round(time.monotonic() - t0, 2)
        print(f"drive.py: the dry run's result was shown {result['dry_run_seconds']} s "
              "after the click")
        dry_id = b.text("job-id")
        result["dry_run_id"] = dry_id
        got = shown_counts(b)
        check(got == want, f"the dry run shows the expected counts: {got} != {want}")
        check(b.text("job-rows") == str(args.rows),
              f"the dry run shows {args.rows} rows: {b.text('job-rows')!r}")
        check(not b.visible("guard-warning"), "no guard warning for this import")
        check(not b.visible("import-error"), f"no error after the dry run: "
              f"{b.el('import-error').text!r}")
        b.wait("start is enabled after the dry run", lambda: b.el("start-btn").is_enabled())
        b.shot("dry-run")

        # Start and follow it.
        t0 = time.monotonic()
        b.el("start-btn").click()
        b.wait("the import's job", lambda: b.text("job-kind") == "Import"
               and b.text("job-id") not in ("", "–", dry_id))
        result["import_id"] = b.text("job-id")
        b.shot("started")
        b.wait("a final status", lambda: job_status(b) in FINAL, args.import_timeout)
        result["finished_seconds"] = round(time.monotonic() - t0, 2)
        print(f"drive.py: {job_status(b)!r} was shown {result['finished_seconds']} s after "
              "the click on start")
        check(job_status(b) == "finished", f"the import finished: {job_status(b)!r}")
        check(b.text("job-status") == "Finished", "the status badge reads Finished")
        check("Finished" in b.text("status"),
              f"the live region announced the outcome: {b.text('status')!r}")
        got = shown_counts(b)
        check(got == want, f"the finished import shows the expected counts: {got} != {want}")
        b.wait("the summary's button", lambda: b.visible("summary-btn"))
        b.shot("finished")

        # Download the summary (and the first passwords when the server generates them).
        result["summary"] = download(b, args, "summary-btn",
                                     f"summary-{result['import_id']}.csv")
        if args.passwords:
            check(b.visible("passwords-btn"), "the job offers its first passwords")
            result["passwords"] = download(b, args, "passwords-btn",
                                           f"passwords-{result['import_id']}.csv")
        else:
            check(not b.visible("passwords-btn"), "no passwords offered without generated ones")

        # The recent imports list both jobs.
        def listed():
            ids = listed_ids(b)
            return dry_id in ids and result["import_id"] in ids
        b.wait("both jobs in the recent imports", listed)
        b.shot("downloaded-and-listed")

        if args.guard_csv:
            guard_dry_run(b, args.guard_csv, args.guard_text)
            if args.guard_start:
                result["held_id"] = guard_start(b, args)
        if args.restart_cmd:
            session_ends(b, args, password, result)
        if args.hostile_csv:
            hostile_dry_run(b, args.hostile_csv)

        # Phone width: everything fits, nothing scrolls sideways.
        b.d.set_window_size(390, 844)
        b.wait("the phone layout", lambda: b.d.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth;"))
        b.shot("phone")
        b.d.set_window_size(1280, 900)

        # Log out: the login form again, nothing of the session left on the page.
        b.el("logout").click()
        b.wait("the login form after logging out", lambda: b.visible("login-section"))
        check(not b.visible("app-section"), "the import form is gone after logging out")
        check(b.d.find_elements(By.CSS_SELECTOR, "#jobs-table tbody tr") == [],
              "the jobs are gone from the page after logging out")
        b.shot("logged-out")

        csp = b.csp_violations()
        check(not csp, "no Content-Security-Policy violation: " + "; ".join(csp))
    finally:
        b.quit()


def german_run(args):
    dl = tempfile.mkdtemp(prefix="sisopi-dl-")
    b = Driver(args, "de-DE", dl)
    try:
        b.d.get(args.url)
        b.wait("the page is ready",
               lambda: b.d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        check(b.d.execute_script("return document.documentElement.lang") == "de",
              "a German browser gets the German page")
        check(b.text("login-heading") == "Anmelden",
              f"the login heading is German: {b.text('login-heading')!r}")
        check(b.el("login-submit").text == "Anmelden", "the login button is German")
        b.shot("german")
        Select(b.el("lang")).select_by_value("en")
        b.wait("the switch to English", lambda: b.text("login-heading") == "Log in")
        csp = b.csp_violations()
        check(not csp, "no Content-Security-Policy violation: " + "; ".join(csp))
    finally:
        b.quit()
        shutil.rmtree(dl, ignore_errors=True)


def main():
    args = parse_args()
    os.makedirs(args.artifacts, exist_ok=True)
    os.makedirs(args.downloads, exist_ok=True)
    with open(args.password_file, encoding="utf-8") as f:
        password = f.read().rstrip("\n")
    with open(args.csv, encoding="utf-8-sig") as f:
        args.rows = sum(1 for line in f if line.strip()) - 1
    want = parse_expect(args.expect)
    result = {}
    try:
        english_run(args, password, want, result)
        german_run(args)
    except CheckFailed as e:
        print(f"drive.py: FAIL: {e}", file=sys.stderr)
        return 1
    except WebDriverException as e:
        if "import_id" in result or "dry_run_id" in result:
            print(f"drive.py: FAIL: the browser failed mid-test: {e.msg}", file=sys.stderr)
            return 1
        print(f"drive.py: FAIL: cannot start or drive Chromium ({args.chromium} via "
              f"{args.chromedriver}): {e.msg}", file=sys.stderr)
        return 2
    finally:
        with open(args.result, "w", encoding="utf-8") as f:
            json.dump(result, f)
    print("drive.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
