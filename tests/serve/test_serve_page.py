"""The page in a real browser: Playwright driving Debian's chromium (no browser download), against uvicorn."""

import os
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from cnnkit.serve import create_app
from support.serving import Live, png

sync_api = pytest.importorskip("playwright.sync_api")

DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "images" / "serve.png"


def scene(path: Path, colour: tuple[int, int, int], size: tuple[int, int]) -> None:
    """A coloured disc on a dark background: the disc decides the class, so Grad-CAM lights it up."""
    img = Image.new("RGB", size, (20, 20, 20))
    w, h = size
    ImageDraw.Draw(img).ellipse((w * 0.15, h * 0.2, w * 0.75, h * 0.8), fill=colour)
    img.save(path)


def chromium_path() -> str | None:
    # Debian's /usr/bin/chromium is a shell wrapper; Playwright wants the browser binary itself.
    for path in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if path and os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    if exe is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt-get)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def test_page_classifies_two_picked_images_and_shows_gradcam(browser, live, tmp_path):
    scene(tmp_path / "red-car.png", (220, 30, 20), (160, 120))
    scene(tmp_path / "blue-sky.png", (30, 60, 230), (120, 160))
    (tmp_path / "notes.png").write_bytes(b"these are notes, not an image")
    page = browser.new_page(viewport={"width": 1000, "height": 760})
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{live.url}/")
    sync_api.expect(page.locator("#model-card")).to_contain_text("3: red, green, blue")
    sync_api.expect(page.locator("#model-card")).to_contain_text("97.5 %")

    page.keyboard.press("Tab")  # the file picker is the first thing the keyboard reaches
    assert page.evaluate("document.activeElement.id") == "files"
    with page.expect_file_chooser() as chooser:
        page.click("#drop strong")
    chooser.value.set_files([str(tmp_path / "red-car.png"), str(tmp_path / "blue-sky.png")])
    cards = page.locator(".result")
    sync_api.expect(cards).to_have_count(2)
    red = cards.filter(has_text="red-car.png")
    blue = cards.filter(has_text="blue-sky.png")
    sync_api.expect(red.locator(".top-class")).to_have_text(re.compile(r"^red \(\d+\.\d %\)$"))
    sync_api.expect(blue.locator(".top-class")).to_have_text(re.compile(r"^blue \(\d+\.\d %\)$"))
    assert red.locator(".bars li").count() == 3

    button = red.get_by_role("button", name="Show Grad-CAM")
    button.focus()
    page.keyboard.press("Enter")  # keyboard-operable toggle
    overlay = red.locator("img.overlay")
    sync_api.expect(overlay).to_have_attribute("data-loaded", "true")
    sync_api.expect(overlay).to_be_visible()
    assert overlay.evaluate("img => img.complete && img.naturalWidth") == 160  # drawn at the upload's size
    assert button.get_attribute("aria-pressed") == "true"

    page.set_input_files("#files", [str(tmp_path / "notes.png")])  # an error shows in the page, not as JSON
    bad = cards.filter(has_text="notes.png")
    sync_api.expect(bad.locator(".alert")).to_contain_text("Cannot read the image: not an image")
    sync_api.expect(bad.locator(".top-class")).to_have_text("Not classified")

    shot = tmp_path / "serve.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("CNNKIT_UPDATE_SCREENSHOTS"):  # refresh the README's picture on purpose only
        shutil.copyfile(shot, DOCS_IMAGE)
    assert Image.open(shot).size[0] == 1000

    page.set_viewport_size({"width": 360, "height": 740})  # phone width: nothing scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert requests and all(u.startswith(live.url) or u.startswith(("blob:", "data:")) for u in requests), requests
    page.close()


def test_page_asks_for_the_api_key(browser, run_dir):
    live = Live(create_app(run_dir, api_key="k3y"))
    try:
        page = browser.new_page()
        page.goto(f"{live.url}/")
        sync_api.expect(page.locator("#keybox")).to_be_visible()
        page.fill("#key", "k3y")
        page.keyboard.press("Enter")
        sync_api.expect(page.locator("#model-card")).to_contain_text("red, green, blue")
        page.close()
    finally:
        live.stop()


DROP_AND_PASTE = """async ([kind, bytes]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(bytes)], kind + ".png", { type: "image/png" }));
    if (kind === "dropped") {
        const drop = document.getElementById("drop");
        drop.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    } else {
        document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
    }
}"""


def test_page_takes_dropped_and_pasted_images(browser, live):
    page = browser.new_page()
    page.goto(f"{live.url}/")
    page.evaluate(DROP_AND_PASTE, ["dropped", list(png((20, 200, 30)))])
    page.evaluate(DROP_AND_PASTE, ["pasted", list(png((200, 20, 30)))])
    sync_api.expect(page.locator(".result").filter(has_text="dropped.png").locator(".top-class")).to_contain_text(
        "green ("
    )
    sync_api.expect(page.locator(".result").filter(has_text="pasted.png").locator(".top-class")).to_contain_text(
        "red ("
    )
    page.close()
