"""Schemathesis hooks for runway-server: realistic media for schema-valid requests.

A JSON Schema says a media field is a URI; it cannot say "a URL of a video this
server can read, at least `time_position` seconds long". Schema-valid requests
(positive mode) would otherwise point at hosts the server does not fetch from
(`--no-remote-fetch`) or at media of the wrong kind, and the server would rightly
answer 415/422, so the edits themselves would never run.

So, for positive cases only, and without touching any check:

- `image_url` and `style_reference` get a real image of this server (an own image
  URL that a link or an earlier response supplied is kept);
- `video_url` gets a real 2 s video with a sound track, made at start-up;
- times are fitted inside those 2 s (`start_time` before the end and before
  `end_time`, `time_position` before the end), the only relation between fields the
  schema cannot state;
- an upload body becomes the bytes of a real image or video;
- a download (`GET /images|videos|audios/{file}`) asks for a fixture file, and a
  `Range` starting at or past its end is brought inside it (`bytes=-0` asks for the
  last byte): a range past the end of the file is the one answer (416) that
  depends on the file rather than on the request's form.

An `Idempotency-Key` gets a serial number appended, so that one key names one
request. A task's `input` is an operation's request body and gets the same treatment; every
task is cancelled as soon as it is created (see `after_call`).

Negative cases are sent exactly as generated. Media URLs in query parameters
(metadata, delete) are never rewritten: an unknown URL there is a plain 404. A
`delete-media` of this server's own media (reached through a link) gets the run's
API key as `auth_token`, the credential the run holds anyway, so that stateful
sequences really delete and the use-after-free checks have something to check.

The links that build a request body from a response (generate-image -> edit-image,
generate-video -> trim, ...) live in `links.yaml` beside this file, not in the
contract (see its header); `before_load_schema` adds them to the schema this run
loads, so the stateful phase follows them as before.

Needs RUNWAY_BASE_URL and RUNWAY_API_KEY (the server under test, on loopback).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import urllib.request
from urllib.parse import urlsplit

import schemathesis
import yaml

BASE_URL = os.environ["RUNWAY_BASE_URL"].rstrip("/")
API_KEY = os.environ["RUNWAY_API_KEY"]

# The fixture video lasts this many whole seconds. With 2 s, every speed factor the
# contract allows (0.25..4) keeps the result within the contract's 10 s.
VIDEO_SECONDS = 2

if urlsplit(BASE_URL).hostname not in ("127.0.0.1", "localhost", "::1"):
    raise SystemExit(f"refusing to test {BASE_URL}: the server under test must be on loopback")


def _call(method: str, path: str, body: dict | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        BASE_URL + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read()


def _create(path: str, body: dict, field: str) -> str:
    return json.loads(_call("POST", path, body))[field]


IMAGE_URL = _create(
    "/v1/generate-image",
    {"prompt": "conformance fixture", "style": "abstract", "width": 96, "height": 64},
    "image_url",
)
VIDEO_URL = _create(
    "/v1/generate-video",
    {"prompt": "conformance fixture", "duration": VIDEO_SECONDS, "width": 96, "height": 64, "fps": 12},
    "video_url",
)
AUDIO_URL = _create("/v1/extract-audio", {"video_url": VIDEO_URL}, "audio_url")
# Download path -> (the fixture's file name, its bytes).
FILES = {
    f"/{kind}/{{file}}": (urlsplit(url).path.rsplit("/", 1)[-1], _call("GET", urlsplit(url).path))
    for kind, url in (("images", IMAGE_URL), ("videos", VIDEO_URL), ("audios", AUDIO_URL))
}
UPLOADS = [FILES["/images/{file}"][1], FILES["/videos/{file}"][1]]


def _own_image(value: object) -> bool:
    """Whether `value` is an image URL of the server under test."""
    return isinstance(value, str) and value.startswith(BASE_URL + "/images/")


def _fit_times(body: dict) -> None:
    """Bring the request's times inside the fixture video."""
    if body.get("edit_type") == "trim":
        start = body.get("start_time", 0) % VIDEO_SECONDS
        if "start_time" in body:
            body["start_time"] = start
        end = body.get("end_time")
        if end is not None and end <= start:
            room = VIDEO_SECONDS - start
            body["end_time"] = start + 1 + end % room
    if "time_position" in body:
        body["time_position"] %= VIDEO_SECONDS


def _fit_range(value: str, size: int) -> str:
    """A `Range` that starts inside a file of `size` bytes."""
    # As the server reads it: `bytes=`, then two optional numbers around a `-`.
    match = re.fullmatch(r"bytes=\s*\+?(\d*)\s*-\s*\+?(\d*)\s*", value.strip(), re.ASCII)
    if match is None:
        return value  # ignored by the server: the whole file
    first, last = match.groups()
    if first == "":
        return "bytes=-1" if last != "" and int(last) == 0 else value
    start = int(first)
    if start < size:
        return value
    start %= size
    if last != "" and int(last) < start:
        last = ""
    return f"bytes={start}-{last}"


@schemathesis.hook
def before_load_schema(ctx, raw_schema):
    """Add the body-building links of links.yaml to the contract under test."""
    with open(os.path.join(os.path.dirname(__file__), "links.yaml")) as file:
        extra = yaml.safe_load(file)
    operations = {
        op["operationId"]: op
        for item in raw_schema["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    for operation_id, by_status in extra.items():
        for status, links in by_status.items():
            response = operations[operation_id]["responses"][status]
            response.setdefault("links", {}).update(links)


_KEY_SERIAL = itertools.count()


def _fit_media(body: dict) -> None:
    """Point the media fields of a request body at real media of this server."""
    for field in ("image_url", "style_reference"):
        if field in body and not _own_image(body[field]):
            body[field] = IMAGE_URL
    if "video_url" in body:
        body["video_url"] = VIDEO_URL
        _fit_times(body)


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    headers = case.headers or {}
    for header in [h for h in headers if h.lower() == "idempotency-key"]:
        # A key names one request: a generated key ("0", say) reused with another
        # body is rightly refused (422), so each positive case gets its own.
        headers[header] = f"{str(headers[header])[:200]}-{next(_KEY_SERIAL)}"
    body = case.body
    if isinstance(body, dict):
        _fit_media(body)
        # A task's input is the request body of its operation.
        if isinstance(body.get("input"), dict):
            _fit_media(body["input"])
    elif case.operation.path == "/v1/delete-media":
        query = case.query or {}
        if str(query.get("media_url", "")).startswith(BASE_URL + "/"):
            case.query = {**query, "auth_token": API_KEY}
    elif case.operation.path in FILES:
        name, content = FILES[case.operation.path]
        case.path_parameters = {**(case.path_parameters or {}), "file": name}
        headers = case.headers or {}
        for header in [h for h in headers if h.lower() == "range"]:
            headers[header] = _fit_range(str(headers[header]), len(content))
    elif case.operation.path == "/v1/upload-media":
        # Deterministic choice of image or video from the generated bytes.
        raw = body if isinstance(body, bytes) else str(body).encode()
        case.body = UPLOADS[hashlib.sha256(raw).digest()[0] % len(UPLOADS)]


@schemathesis.hook
def after_call(ctx, case, response):
    """Cancel every task as soon as it is created: thousands of generated renders
    would otherwise keep both cores busy for the rest of the run. The task is then
    finished (`cancelled`), so reads answer it and a `DELETE` removes it."""
    if case.operation.path == "/v1/tasks" and case.method.upper() == "POST" and response.status_code == 202:
        task_id = response.json()["id"]
        _call("DELETE", f"/v1/tasks/{task_id}")
