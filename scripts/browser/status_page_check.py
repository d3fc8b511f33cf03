#!/usr/bin/env python3
"""Drives headless Chromium (Debian's `chromium` and `chromium-driver`) through followup's status
page with a small W3C WebDriver client (the standard library only): log in, find the dead job,
press its Retry button, see the page say it is due again, then see the job leave the dead list
once a poller ran it. Keeps a screenshot.

    status_page_check.py BASE_URL PASSWORD JOB_ID SCREENSHOT.png

Exit 0 on success; otherwise a message on stderr and exit 1. Used by Tests/ServerTests/BrowserTests.swift.
"""
import base64, json, socket, subprocess, sys, time, urllib.parse, urllib.request

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.session = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)["value"]
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} {path}: {error.read().decode(errors='replace')}")

    def start(self):
        value = self.call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1400",
                # Light on a shared machine: one renderer, no extensions, no background work.
                "--renderer-process-limit=1", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"]},
        }}})
        self.session = value["sessionId"]

    def s(self, path):
        return f"/session/{self.session}{path}"

    def get(self, url):
        self.call("POST", self.s("/url"), {"url": url})

    def source(self):
        return self.call("GET", self.s("/source"))

    def click(self, css):
        element = self.call("POST", self.s("/element"), {"using": "css selector", "value": css})
        element_id = next(iter(element.values()))
        self.call("POST", self.s(f"/element/{element_id}/click"), {})

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.call("GET", self.s("/screenshot"))))

    def quit(self):
        if self.session:
            try:
                self.call("DELETE", self.s(""))
            except Exception:
                pass


def wait_for(condition, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def main():
    base, password, job, screenshot = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    parts = urllib.parse.urlsplit(base)
    logged_in = f"{parts.scheme}://ops:{urllib.parse.quote(password)}@{parts.netloc}/"
    port = free_port()
    driver_process = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = WebDriver(port)
    try:
        if not wait_for(lambda: _ready(driver), timeout=20):
            raise RuntimeError("chromedriver did not start")
        driver.start()
        driver.get(logged_in)
        page = driver.source()
        if f'id="retry-{job}"' not in page:
            raise RuntimeError(f"the dead job {job} has no Retry button on the page:\n{page[:3000]}")
        driver.click(f"#retry-{job}")
        if not wait_for(lambda: f"Job {job} is due again." in driver.source()):
            raise RuntimeError(f"after Retry the page did not say the job is due again:\n{driver.source()[:3000]}")
        # The poller runs it: reload until it has left the dead list.
        def gone():
            driver.get(logged_in)
            return f'id="retry-{job}"' not in driver.source()
        if not wait_for(gone):
            raise RuntimeError("the retried job is still listed as dead")
        driver.screenshot(screenshot)
        print(json.dumps({"ok": True, "screenshot": screenshot}))
    finally:
        driver.quit()
        driver_process.terminate()
        try:
            driver_process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            driver_process.kill()
            driver_process.wait()


def _ready(driver):
    try:
        return driver.call("GET", "/status").get("ready", False)
    except Exception:
        return False


if __name__ == "__main__":
    try:
        main()
    except Exception as error:
        print(f"status_page_check: {error}", file=sys.stderr)
        sys.exit(1)
