"""Headless Debian chromium for tests: open a page, read element positions, save screenshots under build/.

Launched through Selenium with the system chromedriver and flags that keep chromium off the network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")
# No first-run pages, updates, sync, field trials or QUIC: the only connections are to the test's own pages.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
         "--metrics-recording-only", "--disable-dev-shm-usage")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


def missing() -> str | None:
    """Why the browser tests cannot run here (for pytest.skip), or None; in CI they always run, so a
    missing browser fails them instead of hiding behind a skip."""
    if os.environ.get("CI"):
        return None
    if not os.access(CHROMIUM, os.X_OK):
        return f"no chromium at {CHROMIUM}: `make browser` installs it (apt-get, as root)"
    if not os.access(CHROMEDRIVER, os.X_OK):
        return f"no chromedriver at {CHROMEDRIVER}: `make browser` installs chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (requirements.txt)"
    return None


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator:
    """A Selenium WebDriver on headless chromium with a fresh profile, closed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager is never needed (paths given), nor its stats
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name: str) -> Path:
    """Save the whole page as build/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return window.innerWidth")
    driver.set_window_size(max(width, 800), min(max(height + 150, 600), 8000))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def boxes(driver, selector: str) -> list[dict]:
    """Each matching element's text and layout box: left, top, width, height, and whether its text is clipped."""
    return driver.execute_script(
        """return Array.from(document.querySelectorAll(arguments[0])).map(e => {
               const r = e.getBoundingClientRect();
               return {text: e.innerText, left: r.left, top: r.top, width: r.width, height: r.height,
                       clipped: e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1,
                       depth: e.closest('[data-depth]') ? Number(e.closest('[data-depth]').dataset.depth) : null};
           });""", selector)
