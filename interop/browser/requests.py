"""Records every request the reference page makes in Chromium (through Playwright
and the Chrome DevTools Protocol) and fails on any that leaves the server.

    python requests.py BASE_URL SCREENSHOT_DIR

A request to another host passes only when the browser refused to send it
because of the page's Content-Security-Policy (Redoc's attribution logo, an image
on Redocly's CDN): such a request never reaches the network. Redoc's telemetry
must not even be attempted. Each page is also saved as a screenshot.
"""

import sys
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
PAGES = {"overview": "", "images": "#/images", "tasks": "#/tasks"}


def main() -> int:
    base, shots = sys.argv[1], sys.argv[2]
    server = urlsplit(base).netloc
    requested, blocked, sent_away = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for name, fragment in PAGES.items():
            page = browser.new_page()
            page.on("request", lambda r: requested.append(r.url))
            page.on(
                "requestfailed",
                lambda r: blocked.append(r.url)
                if "ERR_BLOCKED_BY_CSP" in (r.failure or "")
                else None,
            )
            page.goto(f"{base}/docs{fragment}", wait_until="networkidle")
            page.wait_for_selector("text=Runway AI API", timeout=30_000)
            page.wait_for_timeout(1_000)
            page.screenshot(path=f"{shots}/docs-{name}.png")
            page.close()
        browser.close()
    for url in requested:
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != server:
            if url not in blocked:
                sent_away.append(url)
    telemetry = [u for u in requested if "otel" in u or "telemetry" in u]
    print(f"    {len(requested)} requests recorded; {len(sent_away)} sent to another host; "
          f"{len(set(blocked))} refused by the page's CSP: {sorted(set(blocked))}")
    for url in sent_away + telemetry:
        print(f"    LEFT THE SERVER: {url}")
    if not any(urlsplit(u).path == "/openapi.json" for u in requested):
        print("    no request for /openapi.json was recorded: the recorder saw nothing useful")
        return 1
    return 1 if sent_away or telemetry else 0


if __name__ == "__main__":
    sys.exit(main())
