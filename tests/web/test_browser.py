"""The studio page in a real browser (headless Chromium) on a real `sidecar serve --model tiny`:
make a take, see its grid, hear it, re-roll, cancel, find it in the history; refusals beside
their fields; a DAW's OSC request in the same queue; keyboard use. Screenshots go to tmp."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from sidecar.osc import addresses as A
from sidecar.osc.client import SidecarClient
from tests.support.server import SidecarProcess, running_sidecar
from tests.web.browser import CHROMIUM, chromium

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarProcess]:
    with running_sidecar(tmp_path_factory.mktemp("studio"), "--no-warm-up", http=True) as proc:
        yield proc


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots of the main views (under pytest's tmp dir)."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture()
def page(browser: BrowserContext, server: SidecarProcess) -> Iterator[Page]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    yield page
    page.close()
    assert not errors, errors


def _submit(page: Page) -> str:
    """Submit the Make form; the request id the page was given."""
    page.get_by_role("button", name=re.compile("^(Generate|Continue)$")).click()
    status = page.locator("#make-status")
    expect(status).to_contain_text("queued as page-")
    found = re.search(r"queued as (page-[0-9a-f]+)", status.inner_text())
    assert found is not None
    return found.group(1)


def _pixel(page: Page, selector: str, x: int, y: int) -> list[int]:
    return page.eval_on_selector(
        selector,
        "(c, [x, y]) => Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data)",
        [x, y],
    )


def test_make_a_take_see_its_grid_hear_it_reroll_and_find_it(
    page: Page, server: SidecarProcess, shots: Path
) -> None:
    page.get_by_label("prompt", exact=True).fill("deep house chords")
    page.get_by_label("bpm", exact=True).fill("120")
    page.get_by_label("bars", exact=True).fill("2")
    page.screenshot(path=shots / "make.png", full_page=True)
    rid = _submit(page)

    page.get_by_role("tab", name=re.compile("Queue")).click()
    row = page.locator(f"#job-{rid}")
    expect(row).to_have_attribute("data-state", "done", timeout=120_000)
    expect(row.locator(".pct")).to_have_text(" 100 %")
    assert row.locator("progress").evaluate("p => p.value") == 1
    expect(row).to_have_attribute("data-source", "page")
    page.screenshot(path=shots / "queue.png", full_page=True)

    page.get_by_role("tab", name=re.compile("Takes")).click()
    card = page.locator(f"#take-{rid}-0")
    expect(card).to_have_attribute("data-ready", "1", timeout=30_000)
    canvas = f"#take-{rid}-0 canvas"
    # 2 bars of 4 at 120 BPM over 4 s: 9 lines (beats 0..8); bar 2 at 2 s, mid-canvas.
    assert page.get_attribute(canvas, "data-grid-lines") == "9"
    r, g, b, _ = _pixel(page, canvas, 600, 135)
    assert r > 200 and g > 150 and b < 120, (r, g, b)  # the bar line's colour
    r, g, b, _ = _pixel(page, canvas, 450, 135)
    assert (r, g, b) != _pixel(page, canvas, 600, 135)[:3]  # a beat line is not a bar line
    report = card.locator(".report").inner_text()
    assert "2 bars of 4 at 120.00 BPM" in report and "Decision:" in report and "LUFS" in report
    page.screenshot(path=shots / "takes.png", full_page=True)

    audio = f"#take-{rid}-0 audio"
    assert abs(page.eval_on_selector(audio, "a => a.duration") - 4.0) < 0.01
    page.eval_on_selector(audio, "a => a.play()")
    expect(card).to_have_attribute("data-ended", "1", timeout=30_000)

    page.get_by_role("button", name=f"re-roll {rid}").click()
    expect(page.locator("#make-status")).to_contain_text(f"re-roll of {rid} queued as page-")
    again = re.search(r"queued as (page-[0-9a-f]+)", page.locator("#make-status").inner_text())
    assert again is not None
    second = page.locator(f"#take-{again.group(1)}-0")
    expect(second).to_have_attribute("data-ready", "1", timeout=120_000)
    seeds = [
        page.locator(f"#take-{x}-0 h3").inner_text().split("seed ")[1]
        for x in (rid, again.group(1))
    ]
    assert seeds[0] != seeds[1]

    page.get_by_role("tab", name="History").click()
    page.get_by_label("prompt contains").fill("HOUSE")
    page.get_by_label("tempo (BPM, ±2)").fill("121")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#history-rows tr")).to_have_count(2)
    page.screenshot(path=shots / "history.png", full_page=True)
    page.get_by_label("tempo (BPM, ±2)").fill("90")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#history-rows tr")).to_have_count(0)
    page.get_by_label("tempo (BPM, ±2)").fill("")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#history-rows tr")).to_have_count(2)
    # Recall the first take: its file comes back as a take of a new request.
    page.locator("#history-rows tr").last.get_by_role("button", name=re.compile("^recall")).click()
    expect(page.locator("#e-history")).to_contain_text("recalled as page-")

    page.get_by_role("tab", name=re.compile("Models")).click()
    expect(page.locator("#model-rows tr[data-model='tiny'] td").nth(3)).to_have_text("current")
    expect(page.locator("#preset-rows tr").first).to_be_visible()
    page.screenshot(path=shots / "models.png", full_page=True)


def test_a_refused_field_shows_the_servers_message_beside_it(
    page: Page, server: SidecarProcess
) -> None:
    page.get_by_label("bpm", exact=True).fill("500")
    _click_make(page)
    with SidecarClient(server.host, server.port) as c:
        c.send(A.GENERATE, "osc-bpm", "bpm", 500)
        (_, (_, _, message)) = c.until_terminal("osc-bpm", 10)[-1]
    expect(page.locator("#e-bpm")).to_have_text(message)
    expect(page.locator("#f-bpm")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-bpm")).to_be_focused()
    page.get_by_label("bpm", exact=True).fill("")
    page.get_by_label("bars", exact=True).fill("4")
    _click_make(page)
    expect(page.locator("#e-bars")).to_have_text("bars: 4 needs bpm to make a length")
    expect(page.locator("#e-bpm")).to_have_text("")  # the earlier refusal is cleared


def _click_make(page: Page) -> None:
    page.get_by_role("button", name=re.compile("^(Generate|Continue)$")).click()


def test_cancel_mid_take_with_a_daw_request_in_the_same_queue(
    page: Page, server: SidecarProcess, shots: Path
) -> None:
    page.get_by_text("More fields").click()
    page.get_by_label("seconds", exact=True).fill("60")
    page.get_by_label("preview", exact=True).fill("2")
    rid = _submit(page)
    page.get_by_role("tab", name=re.compile("Queue")).click()
    row = page.locator(f"#job-{rid}")
    expect(row).to_have_attribute("data-state", "running", timeout=60_000)
    with SidecarClient(server.host, server.port) as daw:
        daw.send(A.GENERATE, "daw-take", "prompt", "drums", "seconds", 2.0)
        daw_row = page.locator("#job-daw-take")
        expect(daw_row).to_have_attribute("data-source", f"osc 127.0.0.1:{daw.port}")
        expect(daw_row).to_have_attribute("data-state", "queued")
        expect(daw_row.locator(".position")).to_have_text("1")  # behind the page's job
        page.wait_for_function(
            f"document.querySelector('#job-{rid} progress').value > 0", timeout=60_000
        )
        # With `preview 2`, the audio decoded so far is linked while the job runs.
        expect(row.locator("a.preview")).to_contain_text("preview (", timeout=60_000)
        page.screenshot(path=shots / "queue-two-sources.png", full_page=True)
        row.get_by_role("button", name=f"cancel {rid}").click()
        expect(row).to_have_attribute("data-state", "cancelled", timeout=60_000)
        replies = daw.until_terminal("daw-take", 120)
    assert replies[-1][0] == A.DONE  # the DAW's job ran next, answered over OSC
    expect(daw_row).to_have_attribute("data-state", "done")


def test_continue_a_dropped_clip_over_a_bar_range(page: Page, clip: Path, shots: Path) -> None:
    page.get_by_label("continue a clip").check()
    page.get_by_label("bpm", exact=True).fill("120")
    page.get_by_label("bars", exact=True).fill("1")
    page.get_by_label("Drop an audio file here, or choose one").set_input_files(str(clip))
    wave = page.locator("#clip-wave")
    expect(wave).to_have_attribute("data-grid-lines", "9")  # a 2-bar clip at 120 BPM
    expect(page.locator("#f-clip")).to_have_value(re.compile(r"/uploads/[0-9a-f]+\.wav$"))
    page.get_by_label("from bar").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#f-clip_start_beats")).to_have_value("4")
    expect(page.locator("#f-clip_end_beats")).to_have_value("8")
    expect(page.locator("#bar-note")).to_have_text("2 whole bars at 120 BPM; bars 2–2 are sent")
    page.screenshot(path=shots / "continue.png", full_page=True)
    rid = _submit(page)
    page.get_by_role("tab", name=re.compile("Takes")).click()
    take = page.locator(f"#take-{rid}-0")
    expect(take).to_have_attribute("data-ready", "1", timeout=120_000)
    assert "1 bar of 4 at 120.00 BPM" in take.locator(".report").inner_text()
    # The README's picture (docs/images/studio.png is a copy of one such run's).
    page.screenshot(path=shots / "studio.png")


def test_keyboard_and_labels(page: Page) -> None:
    unlabelled = page.eval_on_selector_all(
        "#make-form input, #make-form select, #make-form textarea, #history-form input",
        "els => els.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))"
        ".map(e => e.id || e.name)",
    )
    assert unlabelled == []
    described = page.eval_on_selector_all(
        "#make-form [name]:not([type=radio])",
        "els => els.filter(e => e.id.startsWith('f-'))"
        ".map(e => [e.id, e.getAttribute('aria-describedby')])",
    )
    assert described and all(d == f"h-{i[2:]} e-{i[2:]}" for i, d in described)
    # The tabs: arrow keys move between them, Home and End jump, the view follows.
    page.get_by_role("tab", name="Make").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name=re.compile("Queue"))).to_be_focused()
    expect(page.locator("#view-queue")).to_be_visible()
    page.keyboard.press("End")
    expect(page.locator("#view-models")).to_be_visible()
    page.keyboard.press("Home")
    expect(page.locator("#view-make")).to_be_visible()
    # Tab walks the form in order; Space toggles a checkbox; Enter in a field submits.
    page.get_by_label("prompt", exact=True).focus()
    page.keyboard.type("lofi keys")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "f-bars"  # the next field of the protocol's table shown in the main group
    page.keyboard.type("1")
    page.keyboard.press("Tab")
    page.keyboard.type("140")
    page.get_by_label("loop", exact=True).focus()
    page.keyboard.press("Space")
    expect(page.get_by_label("loop", exact=True)).to_be_checked()
    page.get_by_label("bpm", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#make-status")).to_contain_text("queued as page-")


def test_variations_ab_loop_download_and_drag_out(page: Page) -> None:
    page.get_by_label("bpm", exact=True).fill("120")
    page.get_by_label("bars", exact=True).fill("1")
    page.get_by_label("variations", exact=True).fill("2")
    rid = _submit(page)
    page.get_by_role("tab", name=re.compile("Takes")).click()
    a, b = page.locator(f"#take-{rid}-0"), page.locator(f"#take-{rid}-1")
    for card in (a, b):
        expect(card).to_have_attribute("data-ready", "1", timeout=120_000)
    # A/B: the other variation takes over at the same place.
    page.eval_on_selector(f"#take-{rid}-0 audio", "a => { a.currentTime = 0.5; return a.play(); }")
    a.get_by_role("button", name=f"switch to the other variation of {rid}").click()
    assert page.eval_on_selector(f"#take-{rid}-0 audio", "a => a.paused") is True
    page.wait_for_function(f"!document.querySelector('#take-{rid}-1 audio').paused")
    assert page.eval_on_selector(f"#take-{rid}-1 audio", "a => a.currentTime") >= 0.5
    page.eval_on_selector(f"#take-{rid}-1 audio", "a => a.pause()")
    # Loop.
    b.get_by_label(re.compile("^loop ")).check()
    assert page.eval_on_selector(f"#take-{rid}-1 audio", "a => a.loop") is True
    # Download: the link fetches the file as an attachment.
    href = b.get_by_role("link", name="Download").get_attribute("href")
    headers = page.evaluate(
        "h => fetch(h).then(r => [r.status, r.headers.get('content-disposition')])", href
    )
    assert (
        headers[0] == 200 and headers[1].startswith("attachment;") and f"{rid}-2.wav" in headers[1]
    )
    # Drag-out: the drag carries the file for the desktop (DownloadURL) and for other apps.
    dragged = page.eval_on_selector(
        f"#take-{rid}-1",
        """card => {
            const data = new DataTransfer();
            card.dispatchEvent(new DragEvent("dragstart", {dataTransfer: data, bubbles: true}));
            return [data.getData("DownloadURL"), data.getData("text/uri-list")];
        }""",
    )
    assert dragged[0].startswith(f"audio/wav:{rid}-2.wav:http://127.0.0.1:")
    assert dragged[1].endswith("download=1") and dragged[0].endswith(dragged[1])
