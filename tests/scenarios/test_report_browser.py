"""Reports in a real browser: headless Chromium (Debian package ``chromium``) opens each report and fails
on a JavaScript dialog, an exception, a console error or warning, a network request, an active element
(script, img, iframe…) or an empty chart; the hostile names must be visible as text. Chromium is driven
over the DevTools protocol on a pipe (``--remote-debugging-pipe``), so every console message and dialog is
an event here, not a line to grep; the DOM is dumped and a full-page screenshot is saved."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from scenarios.forecast import FORECAST_SCHEMA
from scenarios.report import render_index, render_scenario_report, write_report
from tests.scenarios.test_report import EVIL, EVIL_ATTR, GENERATED, make_data, make_scores, make_spec

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe"]
TIMEOUT_S = 90


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("headless Chromium not found: install the Debian package 'chromium' (`make test` installs it "
                    "as root); the report rendering checks need it")
    return exe


class Browser:
    """A minimal DevTools-protocol client over Chromium's pipe (fd 3: commands in, fd 4: messages out,
    NUL-separated JSON)."""

    def __init__(self, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds() -> None:  # runs in the child before exec: the pipes become fds 3 and 4
            r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen([_chromium(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=15)
        finally:
            os.close(self._to_chrome)
            os.close(self._from_chrome)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        return self._id

    def recv(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._from_chrome], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _on_event(self, msg: dict[str, Any]) -> None:
        self.events.append(msg)
        if msg.get("method") == "Page.javascriptDialogOpening":  # never leave the page blocked by an alert
            self.send("Page.handleJavaScriptDialog", {"accept": False}, msg.get("sessionId"))

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict[str, Any]:
        i = self.send(method, params, session)
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            msg = self.recv(deadline)
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self._on_event(msg)

    def wait_for(self, method: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not any(e.get("method") == method for e in self.events):
            self._on_event(self.recv(deadline))

    def evaluate(self, session: str, expression: str) -> Any:
        out = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in out:
            raise RuntimeError(f"page script failed: {out['exceptionDetails']}")
        return out["result"]["value"]


PROBE = """(() => {
  const shown = e => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);
                       return r.width > 0 && r.height > 0 && s.visibility === 'visible' && s.display !== 'none'; };
  const figs = [...document.querySelectorAll('figure.chart-box')].map(f => {
    const svg = f.querySelector('svg'), r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {chart: f.dataset.chart, svgs: f.querySelectorAll('svg').length,
            paths: svg ? svg.querySelectorAll('path').length : 0,
            circles: svg ? svg.querySelectorAll('circle').length : 0, width: r.width, height: r.height};
  });
  const evil = [...document.querySelectorAll('td, li, p, h1')].filter(e => e.textContent.includes(%s));
  return {lang: document.documentElement.lang, figs,
          active: document.querySelectorAll('script, img, iframe, object, embed, link, base, form').length,
          evil_nodes: evil.length, evil_visible: evil.filter(shown).length,
          text: document.body.innerText, dom: document.documentElement.outerHTML};
})()"""


def open_page(path: Path, shot: Path, profile: Path) -> dict[str, Any]:
    """Load ``path`` in headless Chromium; the probe's findings, the problems seen, and a screenshot."""
    b = Browser(profile)
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.call(f"{domain}.enable", session=s)
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": 1280, "height": 1600, "deviceScaleFactor": 1, "mobile": False}, s)
        b.call("Page.navigate", {"url": path.as_uri()}, s)
        b.wait_for("Page.loadEventFired")
        probe = b.evaluate(s, PROBE % json.dumps(EVIL))
        size = b.call("Page.getLayoutMetrics", session=s)["cssContentSize"]
        png = b.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}, s)["data"]
        shot.parent.mkdir(parents=True, exist_ok=True)
        shot.write_bytes(base64.b64decode(png))
    finally:
        b.close()
    problems = []
    for e in b.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Page.javascriptDialogOpening":
            problems.append(f"dialog {p.get('type')}: {p.get('message')}")
        elif m == "Runtime.exceptionThrown":
            problems.append(f"exception: {p['exceptionDetails'].get('text')}")
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            problems.append(f"console.{p['type']}: {p.get('args')}")
        elif m == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
            problems.append(f"log {p['entry']['level']}: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif m == "Network.requestWillBeSent" and not p["request"]["url"].startswith(("file:", "data:", "about:")):
            problems.append(f"network request: {p['request']['url']}")
    return {**probe, "problems": problems}


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Every kind of page, rendered, written and opened; screenshots in ``<tmp>/screenshots``."""
    out = tmp_path_factory.mktemp("reports")
    none = pl.DataFrame(schema=FORECAST_SCHEMA)
    html = {
        "summer_peak.fr.html": render_scenario_report(make_data()),
        "summer_peak.en.html": render_scenario_report(make_data(), lang="en"),
        "daily_only.fr.html": render_scenario_report(make_data(baseline=none, scenario=none,
                                                               scores=make_scores().clear())),
        "index.html": render_index([make_spec()], "fr", input_hash="sha256:0123abcd", generated_at=GENERATED,
                                   synthetic=True),
    }
    found = {}
    for name, text in html.items():
        page = write_report(text, out / name)
        found[name] = open_page(page, out / "screenshots" / f"{page.stem}.png", out / f"profile-{page.stem}")
        found[name]["shot"] = out / "screenshots" / f"{page.stem}.png"
    print(f"report screenshots: {out / 'screenshots'}")
    return found


@pytest.mark.parametrize("name", ["summer_peak.fr.html", "summer_peak.en.html", "daily_only.fr.html", "index.html"])
def test_page_opens_cleanly(pages: dict, name: str) -> None:
    page = pages[name]
    assert page["problems"] == []
    assert page["active"] == 0  # nothing executable or fetching: the hostile strings stayed text
    assert page["lang"] == ("en" if ".en." in name else "fr")
    shot = page["shot"].read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000


@pytest.mark.parametrize("name", ["summer_peak.fr.html", "summer_peak.en.html"])
def test_every_chart_is_drawn(pages: dict, name: str) -> None:
    figs = {f["chart"]: f for f in pages[name]["figs"]}
    assert sorted(figs) == ["daily", "map", "profile"]
    for chart in ("daily", "profile"):  # matplotlib: axes, ticks, lines and bands are paths
        f = figs[chart]
        assert f["svgs"] == 1 and f["paths"] > 10 and f["width"] > 400 and f["height"] > 150, f
    m = figs["map"]  # two sites have coordinates (S1, S2): two markers, a scale bar and a north arrow
    assert m["svgs"] == 1 and m["circles"] == 2 and m["paths"] == 2 and m["width"] > 400 and m["height"] > 200, m


def test_hostile_names_are_visible_text(pages: dict) -> None:
    for name in ("summer_peak.fr.html", "summer_peak.en.html"):
        page = pages[name]
        assert EVIL in page["text"] and EVIL_ATTR.strip() in page["text"]
        # table cells (indicators, balance, deltas, placebo, quality, scoreboard) and the map's list: all shown
        assert page["evil_visible"] >= 6 and page["evil_visible"] == page["evil_nodes"]
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page["dom"] and "<script" not in page["dom"]


def test_daily_only_report_says_why_instead_of_empty_charts(pages: dict) -> None:
    page = pages["daily_only.fr.html"]
    assert [f["chart"] for f in page["figs"]] == ["map"]
    assert "aucune prévision horaire ne couvre la période du scénario" in page["text"]
    assert "Aucun score : aucune série horaire n'a été prévue" in page["text"]
