"""The contract in openapi-generator's Python client: drives a running runway-server.

scripts/portability.sh generates the `runway_client` package from
openapi/runway.yaml, installs it, and runs this with RUNWAY_BASE_URL and
RUNWAY_API_KEY set. Covers generate-image, every variant of both edit unions
(sent and answered through the generated union types), generate-video, image and
video metadata, a task created and waited for, a typed error, and delete-media.
"""

from __future__ import annotations

import os
import sys
import time

import runway_client
from runway_client.models import (
    AdjustVideoSpeed,
    ColorAdjustImage,
    EditImageRequest,
    EditVideoRequest,
    FilterImage,
    FilterVideo,
    CreateTaskRequest,
    GenerateImageRequest,
    GenerateImageTask,
    GenerateVideoRequest,
    ImageFilter,
    ResizeImage,
    TrimVideo,
    VideoFilter,
)

KEY = os.environ["RUNWAY_API_KEY"]
config = runway_client.Configuration(host=os.environ["RUNWAY_BASE_URL"], access_token=KEY)
api = runway_client.ApiClient(config)
images = runway_client.ImagesApi(api)
videos = runway_client.VideosApi(api)
media = runway_client.MediaApi(api)

passed = failed = 0


def check(name: str, ok: bool, detail: object = "") -> None:
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


image = images.generate_image(
    GenerateImageRequest(prompt="a harbour at dawn", style="abstract", width=320, height=200)
).image_url
check("generate-image answers an image URL", image.endswith(".jpg"), image)

for name, edit, size in [
    ("color-adjust", ColorAdjustImage(image_url=image, edit_type="color-adjust", contrast=0.3), (320, 200)),
    ("add-filter", FilterImage(image_url=image, edit_type="add-filter", filter=ImageFilter.IMAGE_SEPIA), (320, 200)),
    ("resize", ResizeImage(image_url=image, edit_type="resize", resize_height=100), (160, 100)),
]:
    request = EditImageRequest(edit)
    check(f"edit-image {name} serialises with its tag", request.to_dict()["edit_type"] == name, request.to_json())
    check(f"edit-image {name} parses back as {type(edit).__name__}",
          type(EditImageRequest.from_json(request.to_json()).actual_instance) is type(edit))
    edited = images.edit_image(request).edited_image_url
    meta = media.get_image_metadata(edited)
    check(f"edit-image {name} is {size[0]}x{size[1]}", (meta.width, meta.height) == size, meta)

video = videos.generate_video(
    GenerateVideoRequest(prompt="waves", duration=2, fps=12, width=160, height=96)
).video_url
meta = media.get_video_metadata(video)
check("generate-video lasts 2 s with sound", abs(meta.duration_seconds - 2) < 0.1 and meta.has_audio, meta)

for name, edit, seconds in [
    ("trim", TrimVideo(video_url=video, edit_type="trim", end_time=1), 1),
    ("add-filter", FilterVideo(video_url=video, edit_type="add-filter", filter=VideoFilter.VIDEO_SEPIA), 2),
    ("adjust-speed", AdjustVideoSpeed(video_url=video, edit_type="adjust-speed", speed_factor=0.5), 4),
]:
    request = EditVideoRequest(edit)
    check(f"edit-video {name} parses back as {type(edit).__name__}",
          type(EditVideoRequest.from_json(request.to_json()).actual_instance) is type(edit))
    edited = videos.edit_video(request).edited_video_url
    meta = media.get_video_metadata(edited)
    check(f"edit-video {name} lasts {seconds} s", abs(meta.duration_seconds - seconds) < 0.2, meta)

try:
    media.get_image_metadata(image.replace("/images/", "/images/x"))
    check("unknown media is a 404", False)
except runway_client.exceptions.NotFoundException as err:
    check("unknown media is a 404 with the error body", '"not_found"' in (err.body or ""), err.body)

tasks = runway_client.TasksApi(api)
task = tasks.create_task(CreateTaskRequest(GenerateImageTask(
    operation="generate-image", input=GenerateImageRequest(prompt="a task", width=64, height=48))))
check("create_task answers a pending task", task.status == "pending", task)
for _ in range(100):
    if task.status not in ("pending", "running"):
        break
    time.sleep(0.1)
    task = tasks.get_task(task.id)
check("the task succeeds with its image", task.status == "succeeded" and task.output.image_url is not None, task)
meta = media.get_image_metadata(task.output.image_url)
check("the task's image is 64x48", (meta.width, meta.height) == (64, 48), meta)

deleted = media.delete_media(image, KEY)
check("delete-media confirms", deleted.message == "Media successfully deleted", deleted)
try:
    media.get_image_metadata(image)
    check("the deleted image is gone", False)
except runway_client.exceptions.NotFoundException:
    check("the deleted image is gone", True)

print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
