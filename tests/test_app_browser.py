"""The web demo in a real headless browser (Debian's chromium driven by Playwright): the page
renders, a photo is uploaded through the real file input, the mask and overlay appear, and the
screenshot is a real page. Skipped where chromium is not installed (`apt-get install chromium`);
Streamlit's AppTest covers the same flow everywhere."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")

# Without the background-networking flags chromium keeps dialling out of a closed network.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_app_renders_in_headless_chromium(trained, tmp_path):
    model_path, _ = trained
    port = free_port()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "unet/app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--", "--model", str(model_path)],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"the app never answered: {server.stderr.read()[-2000:]}")
        photo = tmp_path / "car.jpg"
        Image.new("RGB", (120, 80), (200, 30, 30)).save(photo)
        shot = tmp_path / "app.png"
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                                 args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(url)
            page.get_by_text("U-Net segmentation").wait_for(timeout=90_000)
            page.get_by_text("No photo yet.").wait_for(timeout=90_000)
            page.locator("input[type=file]").set_input_files(str(photo))
            page.get_by_text("mask 120x80").wait_for(timeout=90_000)
            page.get_by_text("Download the mask (PNG)").wait_for(timeout=30_000)
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
        pixels = np.asarray(Image.open(shot).convert("RGB"))
        assert pixels.shape[1] == 1200 and pixels.shape[0] >= 900
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 300  # text and images drawn
        shutil.copy(shot, os.environ.get("UNET_MEMORY_DIR", tmp_path))
    finally:
        server.terminate()
        server.wait(timeout=30)
