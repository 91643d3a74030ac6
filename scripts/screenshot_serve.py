"""Regenerate docs/serve.png: start `partpoint serve`, ask it about an example image in headless Chromium
(Debian's chromium + chromium-driver), save the page. Usage: .venv/bin/python scripts/screenshot_serve.py"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE = REPO / "examples" / "images" / "test_000000_0-lamp-shade.jpg"
INSTRUCTIONS = "Point to the lamp shade.\nPoint to the base of the lamp."


def main() -> int:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "partpoint", "serve", "--port", str(port)],
                              env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        options = Options()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            driver.get(url)
            WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#image-upload input[type=file]"))
            driver.find_element(By.CSS_SELECTOR, "#image-upload input[type=file]").send_keys(str(IMAGE))
            WebDriverWait(driver, 30).until(lambda d: IMAGE.stem in d.find_element(By.ID, "image-upload").text)
            driver.find_element(By.CSS_SELECTOR, "#instructions textarea").send_keys(INSTRUCTIONS)
            driver.find_element(By.ID, "point-button").click()
            WebDriverWait(driver, 300).until(
                lambda d: d.find_element(By.CSS_SELECTOR, "#result-json textarea").get_attribute("value").strip())
            time.sleep(1)
            driver.save_screenshot(str(REPO / "docs" / "serve.png"))
        finally:
            driver.quit()
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(f"wrote {REPO / 'docs' / 'serve.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
