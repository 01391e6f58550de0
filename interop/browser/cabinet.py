"""The cabinet in Chromium (Playwright, the system's browser), as its user would
use it, against a runway-server on loopback whose accounts `alice` and `eve`
have passwords:

    python cabinet.py BASE_URL SCREENSHOT_DIR ALICE_PASSWORD EVE_PASSWORD

Signs in; generates a key in the page and uses it with the API (works); makes an
image and starts a long task with it; sees the image in the gallery and deletes
it there (its URL then answers 404); watches the task's progress change without
a reload; revokes the key in the page (the API then refuses it); shows a label
holding markup as text; a form posted from another origin changes nothing;
wrong passwords are slowed down. Each tab is saved as a screenshot at phone and
desktop width. Any script error or Content-Security-Policy violation fails it.
"""

import http.server
import json
import sys
import threading
import time
import urllib.error
import urllib.request

from playwright.sync_api import sync_playwright, expect

CHROMIUM = "/usr/bin/chromium"
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


def api(base, method, path, key, body=None):
    """An API call with `key`: (status, JSON answer or None)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def status_of(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def forging_site(target):
    """Another origin on loopback serving a page whose form posts to the cabinet
    by itself; answers its URL."""

    page = f"""<!doctype html><form id="f" method="post" action="{target}/cabinet/keys">
<input name="label" value="forged"><input name="csrf" value="guess"></form>
<script>document.getElementById("f").submit()</script>""".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def main() -> int:
    base, shots, alice_password, eve_password = sys.argv[1:5]
    problems = []

    def check(condition, what):
        print(f"    {'ok' if condition else 'FAILED'}: {what}")
        if not condition:
            problems.append(what)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport=SIZES["desktop"])
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            lambda message: errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None,
        )

        def shoot(name):
            for size, viewport in SIZES.items():
                page.set_viewport_size(viewport)
                page.screenshot(path=f"{shots}/cabinet-{name}-{size}.png", full_page=True)
            page.set_viewport_size(SIZES["desktop"])

        # Wrong passwords are slowed down (eve's account; alice's stays usable).
        page.goto(f"{base}/cabinet")
        check(page.url.endswith("/cabinet/sign-in"), "the cabinet asks to sign in first")
        shoot("sign-in")
        for _ in range(6):
            page.fill("#account", "eve")
            page.fill("#password", "not eve's password")
            page.click("button[type=submit]")
        check(
            page.locator(".problem").inner_text().startswith("too many sign-in attempts"),
            "the sixth wrong password in a minute is refused outright",
        )
        page.fill("#account", "eve")
        page.fill("#password", eve_password)
        page.click("button[type=submit]")
        check(page.url.endswith("/cabinet/sign-in"), "even the right one waits its turn")

        # Sign in, by keyboard.
        page.fill("#account", "alice")
        page.fill("#password", alice_password)
        page.press("#password", "Enter")
        page.wait_for_url("**/cabinet/keys")
        check(page.locator(".who").inner_text() == "alice", "signed in as alice")

        # Generate a key with a label that holds markup.
        label = "<b>laptop</b>"
        page.fill("#label", label)
        page.click("text=Generate API Key")
        key = page.locator("#made-key").inner_text().strip()
        check(key.startswith("rwk_") and len(key) == 36, f"a new key is shown once ({key[:12]}...)")
        check(page.locator("td.label", has_text=label).count() == 1, "the label is shown as text")
        check(page.locator("td.label b").count() == 0, "the label's markup made no element")
        shoot("keys")
        status, _ = api(base, "GET", "/v1/usage", key)
        check(status == 200, "the key works with the API")

        # An image and a long task, made through the API with it.
        status, made = api(base, "POST", "/v1/generate-image", key,
                           {"prompt": "a lighthouse at dusk", "width": 640, "height": 400})
        check(status == 200, "an image made through the API")
        image_url = made["image_url"] if made else ""
        status, task = api(base, "POST", "/v1/tasks", key, {"operation": "generate-video", "input": {
            "prompt": "followed in the cabinet", "duration": 10, "fps": 60, "width": 1280, "height": 720}})
        check(status == 202, "a long task started through the API")

        # The task's progress changes on the page without a reload.
        page.click("nav >> text=Tasks")
        card = page.locator(f"[data-task-id='{task['id']}']")
        expect(card).to_be_visible()
        page.wait_for_function(
            "id => { const c = document.querySelector(`[data-task-id='${id}'] .percent`);"
            " return c && c.textContent !== '0%' && c.textContent !== '100%'; }",
            arg=task["id"], timeout=60_000)
        first = card.locator(".percent").inner_text()
        shoot("tasks")
        page.wait_for_function(
            "([id, first]) => document.querySelector(`[data-task-id='${id}'] .percent`).textContent !== first",
            arg=[task["id"], first], timeout=60_000)
        check(True, f"progress moved on its own from {first}")
        navigations = page.evaluate("performance.getEntriesByType('navigation').length")
        expect(card.locator(".status")).to_have_text("succeeded", timeout=120_000)
        check(card.locator(".output a").count() == 1, "the finished task links its output")
        check(page.evaluate("performance.getEntriesByType('navigation').length") == navigations,
              "all without a reload")

        # The image is in the gallery; deleted there, its URL answers 404.
        page.click("nav >> text=Media")
        image = page.locator(f"img[src='{image_url}']")
        expect(image).to_be_visible()
        check(page.evaluate("url => [...document.images].some(i => i.src === url && i.naturalWidth === 640)", image_url),
              "the gallery shows the image (640 wide)")
        shoot("media")
        page.locator(".card", has=image).locator("text=Delete…").click()
        page.click("text=Delete it")
        page.wait_for_url("**/cabinet/media")
        check(page.locator(f"img[src='{image_url}']").count() == 0, "gone from the gallery")
        check(status_of(image_url) == 404, "its URL answers 404")

        page.click("nav >> text=Usage")
        check(page.locator("dl.usage").count() == 1, "usage is shown")
        shoot("usage")

        # A form posted from another origin changes nothing.
        other = context.new_page()
        other.goto(forging_site(base))
        other.wait_for_load_state("networkidle")
        other.close()
        page.click("nav >> text=API Access")
        check(page.locator("td.label", has_text="forged").count() == 0,
              "a form from another origin made no key")

        # Revoke the key in the page: the API refuses it.
        page.locator("tr", has_text=label).locator("text=Revoke…").click()
        page.click("text=Revoke the key")
        page.wait_for_url("**/cabinet/keys")
        deadline = time.time() + 8
        while api(base, "GET", "/v1/usage", key)[0] != 401 and time.time() < deadline:
            time.sleep(0.2)
        check(api(base, "GET", "/v1/usage", key)[0] == 401, "the revoked key is refused by the API")
        check(page.locator("tr", has_text=label).locator(".revoked").count() == 1, "the key reads revoked")

        check(not errors, f"no script errors or CSP violations {errors}")
        browser.close()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
