"""A real headless Chromium (Debian's chromium + chromium-driver) driven through Selenium,
to open a Snakemake report the way a reader does: menu, category, eye button, caption."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
APT_LOCK = "/var/lock/ablate-tests-apt.lock"  # shared with tests/slurm/cluster.sh


def ensure_chromium() -> None:
    """Install Debian's chromium and its driver when missing (as root, as the SLURM tests
    install slurm-wlm); elsewhere skip, saying what to install."""
    if Path(CHROMIUM).exists() and Path(DRIVER).exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("the report test needs Debian's chromium and chromium-driver")
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
               "-o", "DPkg::Lock::Timeout=600", "chromium", "chromium-driver"]  # fmt: skip
    # One apt at a time: the SLURM tests may install slurm-wlm beside us (cluster.sh).
    for command in (["flock", APT_LOCK, "apt-get", "update", "-qq"], ["flock", APT_LOCK, *install]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # and the driver below: Selenium downloads nothing
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", f"--window-size={width},{height}"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    """``condition()``'s first truthy value; the test fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s: {condition}"
        time.sleep(0.1)
    return value


@dataclass
class Shown:
    """What the report showed for one result."""

    category: str
    subcategory: str
    kind: str  # "image" or "html" (shown in the page), "download" (offered as a file)
    width: int = 0  # image: natural size in pixels
    height: int = 0
    text: str = ""  # html: the text of the page
    caption: str = ""


class Report:
    """A Snakemake report opened in ``driver``; every step starts from a fresh load, so one
    result's view cannot leak into the next."""

    def __init__(self, driver: Any, path: Path) -> None:
        self.driver, self.uri = driver, path.resolve().as_uri()

    def categories(self) -> list[str]:
        """The result categories of the menu, in its order."""
        self._load()
        menu = self.driver.find_element("tag name", "nav").text.splitlines()
        return menu[menu.index("RESULTS") + 1 :]

    def walk(self, screenshots: Path | None = None) -> dict[str, Shown]:
        """Open every result of every category (and subcategory): {path: Shown}."""
        shown = {}
        for category in self.categories():
            for subcategory in self._subcategories(category) or [""]:
                for path in self._open(category, subcategory):
                    shown[path] = self._show(category, subcategory, path, screenshots)
        return shown

    def _load(self) -> None:
        self.driver.get(self.uri)
        wait_for(lambda: "RESULTS" in self.driver.find_element("tag name", "nav").text)

    def _click(self, text: str) -> None:
        self.driver.find_element("xpath", f"//nav//a[normalize-space()='{text}']").click()

    def _subcategories(self, category: str) -> list[str]:
        self._load()
        self._click(category)
        links = self.driver.find_elements("xpath", "//nav//ul/li/a")
        return [link.text.strip() for link in links]

    def _open(self, category: str, subcategory: str) -> list[str]:
        """Navigate to a (sub)category; the paths it lists."""
        self._load()
        self._click(category)
        if subcategory:
            self._click(subcategory)
        cells = wait_for(lambda: self.driver.find_elements("xpath", "//nav//tbody/tr/td[1]"))
        return [cell.text for cell in cells]

    def _row(self, path: str) -> Any:
        return self.driver.find_element("xpath", f"//nav//tr[td[1][text()='{path}']]")

    def _show(self, category: str, subcategory: str, path: str, screenshots: Path | None):
        self._open(category, subcategory)
        eye = self._row(path).find_element("css selector", "a[iconname=eye]")
        if eye.get_attribute("download"):
            shown = Shown(category, subcategory, "download")
        else:
            eye.click()
            shown = self._content(category, subcategory)
            if screenshots is not None:
                screenshots.mkdir(parents=True, exist_ok=True)
                name = path.replace("/", "_") + ".png"
                self.driver.save_screenshot(str(screenshots / name))
        self._row(path).find_element("css selector", "a[iconname=information-circle]").click()
        info = wait_for(lambda: self.driver.find_element("tag name", "nav").text)
        lines = info.splitlines()
        shown.caption = lines[lines.index("DESCRIPTION") + 1] if "DESCRIPTION" in lines else ""
        return shown

    def _content(self, category: str, subcategory: str) -> Shown:
        def image():
            return self.driver.execute_script(
                "const i = [...document.querySelectorAll('img')]"
                "  .find(i => !i.closest('nav') && i.src.startsWith('data:image/png'));"
                "return i && i.complete && i.naturalWidth ? [i.naturalWidth, i.naturalHeight]"
                "  : null;"
            )

        found = wait_for(lambda: image() or self.driver.find_elements("tag name", "iframe"))
        if isinstance(found[0], int):
            return Shown(category, subcategory, "image", width=found[0], height=found[1])
        self.driver.switch_to.frame(found[0])
        try:
            text = wait_for(lambda: self.driver.find_element("tag name", "body").text)
        finally:
            self.driver.switch_to.default_content()
        return Shown(category, subcategory, "html", text=text)
