"""Drives headless Chromium over the DevTools protocol (--remote-debugging-pipe, standard library only).

    python3 browse.py CHROMIUM PROFILE_DIR STEPS_JSON

STEPS_JSON is a list of {"url", "wait" (a JavaScript expression), "timeout" (s), "dom" (file), "screenshot" (file),
"then" (a JavaScript statement)}: each step opens the URL (or stays on the page when the URL is null), waits until the
expression is true (exit 2 if it never is), saves the DOM and a PNG, then runs "then" (e.g. fills in a form and
submits it, as a user would).
Used by Tests/CLITests/ServeLiveTests.swift to look at the dashboard as a browser renders it.
"""
import base64
import json
import os
import subprocess
import sys
import time


class Browser:
    def __init__(self, chromium, profile):
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and answers on fd 4.
        high = [os.dup(fd) for fd in (to_chrome_r, to_chrome_w, from_chrome_r, from_chrome_w)]
        for fd in (to_chrome_r, to_chrome_w, from_chrome_r, from_chrome_w):
            os.close(fd)
        to_chrome_r, to_chrome_w, from_chrome_r, from_chrome_w = high
        os.dup2(to_chrome_r, 3, inheritable=True)
        os.dup2(from_chrome_w, 4, inheritable=True)
        self.process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "--window-size=1400,1800", "about:blank"],
            pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in (3, 4, to_chrome_r, from_chrome_w):
            os.close(fd)
        self.write = os.fdopen(to_chrome_w, "wb", buffering=0)
        self.read = os.fdopen(from_chrome_r, "rb", buffering=0)
        self.buffer = b""
        self.next_id = 0

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.write.write(json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = self.read.read(65536)
                if not chunk:
                    raise RuntimeError(f"chromium closed the pipe during {method}")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def main():
    chromium, profile, steps = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    browser = Browser(chromium, profile)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.call("Page.enable", session=session)
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": 1400, "height": 1800, "deviceScaleFactor": 1, "mobile": False}, session=session)
        for step in steps:
            if step.get("url"):
                browser.call("Page.navigate", {"url": step["url"]}, session=session)
            deadline = time.time() + step.get("timeout", 30)
            while True:
                try:
                    result = browser.call("Runtime.evaluate",
                                          {"expression": f"Boolean({step['wait']})", "returnByValue": True},
                                          session=session)
                except RuntimeError as error:
                    # The previous step's action (a form's POST) is still navigating: not there yet.
                    if "navigated or closed" not in str(error):
                        raise
                    result = {}
                if result.get("result", {}).get("value") is True:
                    break
                if time.time() > deadline:
                    print(f"timed out waiting for {step['wait']} on {step['url']}", file=sys.stderr)
                    html = browser.call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                                              "returnByValue": True}, session=session)
                    print(html.get("result", {}).get("value", "")[:3000], file=sys.stderr)
                    sys.exit(2)
                time.sleep(0.2)
            if "dom" in step:
                html = browser.call("Runtime.evaluate",
                                    {"expression": "document.documentElement.outerHTML", "returnByValue": True},
                                    session=session)
                with open(step["dom"], "w") as f:
                    f.write(html["result"]["value"])
            if "screenshot" in step:
                shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)
                with open(step["screenshot"], "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
            if step.get("then"):
                browser.call("Runtime.evaluate", {"expression": step["then"]}, session=session)
    finally:
        browser.close()


if __name__ == "__main__":
    main()
