"""`partpoint serve`: the page driven in a real headless Chromium (Selenium), as a person would use it.

The server runs in a child process on 127.0.0.1 and is stopped by its process id. Chromium and its
driver come from Debian (`chromium`, `chromium-driver`), which `.ci/run` installs; without them the
browser tests are skipped on a developer machine and fail in CI (``CI`` set), so CI always runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import build_llava, picture, save_pointer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HAVE_BROWSER = Path(CHROMIUM).is_file() and Path(DRIVER).is_file()
INSTRUCTION = "Point to the handle of the mug."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from partpoint.backbones import load_backbone

    root = tmp_path_factory.mktemp("web")
    backbone_dir = build_llava(root / "llava")
    pointer_dir = save_pointer(load_backbone(backbone_dir), root / "pointer")
    image = root / "mug.png"
    picture(seed=3).save(image)
    broken = root / "broken.png"
    broken.write_bytes(os.urandom(3000))
    return {"backbone": str(backbone_dir), "pointer": str(pointer_dir), "image": str(image),
            "broken": str(broken)}


@pytest.fixture(scope="module")
def server(models):
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "partpoint", "serve", "--host", "127.0.0.1", "--port",
                             str(port),
                             "--backbone", models["backbone"], "--pointer", models["pointer"], "--examples",
                             str(Path(models["image"]).parent)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the server did not come up: {proc.stdout.read()[-2000:]}")
        time.sleep(0.5)
    yield url
    os.kill(proc.pid, signal.SIGTERM)  # stopped by its process id
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def browser():
    if not HAVE_BROWSER:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: install Debian's chromium and chromium-driver "
                        "(.ci/run does)")
        pytest.skip("no chromium / chromedriver here (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def ask(driver, url: str, image: str, instructions: str) -> None:
    """Open the page, upload ``image``, type ``instructions``, press Point (what a person does)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver,
                  60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#image-upload input[type=file]"))
    driver.find_element(By.CSS_SELECTOR, "#image-upload input[type=file]").send_keys(image)
    WebDriverWait(driver, 30).until(lambda d: Path(image).stem in d.find_element(By.ID, "image-upload").text)
    driver.find_element(By.CSS_SELECTOR, "#instructions textarea").send_keys(instructions)
    driver.find_element(By.ID, "point-button").click()


def test_the_page_points_like_the_command_line(server, models, browser, tmp_path, capsys):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from partpoint.commands import main

    ask(browser, server, models["image"], INSTRUCTION)

    def answered(driver):
        value = driver.find_element(By.CSS_SELECTOR, "#result-json textarea").get_attribute("value")
        return value if value.strip() else False

    page = json.loads(WebDriverWait(browser, 180).until(answered))
    browser.save_screenshot(str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").stat().st_size > 10_000
    overlay = browser.find_element(By.CSS_SELECTOR, "#overlay img")
    assert overlay.get_attribute("src")
    assert main(["point", models["image"], INSTRUCTION, "--backbone", models["backbone"], "--pointer",
                 models["pointer"], "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    (point,) = page["points"]
    assert point["instruction"] == INSTRUCTION and point["method"] == "ours"
    assert (page["width"], page["height"]) == (cli["width"], cli["height"])
    assert point["x"] == pytest.approx(cli["x"], abs=0.01) and point["y"] == pytest.approx(cli["y"], abs=0.01)


def test_a_corrupt_upload_shows_its_error_on_the_page(server, models, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    ask(browser, server, models["broken"], "Point to the lid.")
    WebDriverWait(browser, 60).until(lambda d: "cannot identify" in d.find_element(By.TAG_NAME, "body").text)
    text = browser.find_element(By.TAG_NAME, "body").text
    browser.save_screenshot(str(tmp_path / "error.png"))
    assert "broken.png" in text and "Traceback" not in text and "/tmp/gradio" not in text


def test_instructions_methods_and_models_are_loaded_once(models):
    from partpoint.errors import InstructionError, PartPointError
    from partpoint.io.images import load_image
    from partpoint.web.app import Models, parse_instructions, point_image

    assert parse_instructions(" Point to the lid.\n\n  Where is the handle?  \n") == ["Point to the lid.",
                                                                                     "Where is the handle?"]
    with pytest.raises(InstructionError):
        parse_instructions(" \n ")
    loaded = Models()
    bound = loaded.get(models["backbone"], models["pointer"])
    assert loaded.get(models["backbone"], models["pointer"]) is bound  # no second load
    image = load_image(models["image"])  # the page reads the upload once, then points
    ours = point_image(bound, image, ["Point to the lid.", INSTRUCTION])
    attention = point_image(bound, image, ["Point to the lid.", INSTRUCTION], "attention")
    assert len(ours) == len(attention) == 2 and all(r.heatmap is not None for r in ours + attention)
    # what the overlay draws from
    assert all(r.geometry is not None and r.instruction for r in ours + attention)
    with pytest.raises(PartPointError, match="unknown method"):
        point_image(bound, image, [INSTRUCTION], "text")


def test_a_reference_photo_points_by_example_with_or_without_an_instruction(models):
    import gradio as gr

    from partpoint.io.images import load_image
    from partpoint.web.app import Models, answer, build_app, parse_reference_point

    loaded = Models()
    reference = load_image(models["image"])
    args = (models["image"], "", models["backbone"], "", models["pointer"], "ours", reference)
    _, text = answer(loaded, *args, "(30, 40)")
    (alone,) = json.loads(text)["points"]
    assert alone["instruction"] == "(the reference's part)" and alone["x"] is not None
    _, text = answer(loaded, *args[:1], INSTRUCTION, *args[2:], "30, 40")
    assert json.loads(text)["points"][0]["instruction"] == INSTRUCTION
    with pytest.raises(gr.Error, match="click the part"):
        answer(loaded, *args, "")
    with pytest.raises(gr.Error, match="method ours only"):
        answer(loaded, *args[:5], "attention", reference, "30, 40")
    with pytest.raises(gr.Error, match="no instruction"):
        answer(loaded, *args[:6], None, "")
    assert parse_reference_point(" 12.5 , 7 ") == (12.5, 7.0)
    build_app(backbones=[], default_backbone=models["backbone"])  # the click handler wires up
