"""Debian's headless Chromium driven through Debian's chromedriver (Selenium), with
the network switched off: opens local pages and reports what a user would see.

Nothing is downloaded: the driver path is given explicitly, so Selenium Manager
never runs. ``ensure_chromium`` installs the Debian packages when missing.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[1]


def ensure_chromium() -> None:
    """Install Debian's chromium and chromium-driver if absent (scripts/system-deps.sh)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        subprocess.run(["bash", str(REPO / "scripts" / "system-deps.sh"), "chromium",
                        "chromium-driver"], check=True, timeout=900)


class Browser:
    """One headless Chromium session; every page is opened offline."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self._profile = tempfile.TemporaryDirectory(prefix="seqtune-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     "--disable-extensions", "--window-size=1280,1000",
                     f"--user-data-dir={self._profile.name}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                                       options=options)
        self.driver.set_page_load_timeout(60)
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    def open(self, path: Path) -> None:
        self.driver.get(path.resolve().as_uri())

    def console_errors(self) -> list[dict[str, Any]]:
        """Console messages of level SEVERE since the last call (errors, failed loads)."""
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def alert_text(self) -> str | None:
        from selenium.common.exceptions import NoAlertPresentException

        try:
            return self.driver.switch_to.alert.text
        except NoAlertPresentException:
            return None

    def script(self, source: str, *args: Any) -> Any:
        return self.driver.execute_script(source, *args)

    def screenshot(self, path: Path) -> None:
        """The whole page, not only the window."""
        height = self.script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1280, min(max(int(height), 600), 16000))
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1280, 1000)

    def close(self) -> None:
        self.driver.quit()
        self._profile.cleanup()
