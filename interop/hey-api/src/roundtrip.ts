// An SDK generated from openapi/runway.yaml by @hey-api/openapi-ts drives a running
// runway-server: an image through every variant of the edit-image union, a video
// through every variant of the edit-video union, metadata, a typed error, delete.
// The variants are written with the names the contract gives them (FilterImage,
// TrimVideo, ...), type-checked under strict tsc.
//
//   RUNWAY_BASE_URL=http://127.0.0.1:8080 RUNWAY_API_KEY=... node dist/roundtrip.js

import { client } from "./client/client.gen.js";
import {
  deleteMedia,
  editImage,
  editVideo,
  generateImage,
  generateVideo,
  getImageMetadata,
  getVideoMetadata,
} from "./client/sdk.gen.js";
import type {
  AdjustVideoSpeed,
  ColorAdjustImage,
  ErrorResponse,
  FilterImage,
  FilterVideo,
  ResizeImage,
  TrimVideo,
} from "./client/types.gen.js";

const baseUrl = process.env.RUNWAY_BASE_URL ?? "http://127.0.0.1:8080";
const key = process.env.RUNWAY_API_KEY;
if (!key) {
  throw new Error("RUNWAY_API_KEY is not set");
}
client.setConfig({ baseUrl, auth: () => key });

let passed = 0;
let failed = 0;
function check(name: string, ok: boolean, detail = ""): void {
  if (ok) {
    passed += 1;
    console.log(`ok   ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL ${name} ${detail}`);
  }
}

function must<T>(what: string, result: { data?: T; error?: unknown }): T {
  if (result.data === undefined) throw new Error(`${what}: ${JSON.stringify(result.error)}`);
  return result.data;
}

const image = must(
  "generate-image",
  await generateImage({ body: { prompt: "a harbour at dawn", style: "sketch", width: 320, height: 200 } }),
).image_url;
check("generate-image answers an image URL", image.endsWith(".jpg"), image);

const imageEdits: [string, ColorAdjustImage | FilterImage | ResizeImage, number, number][] = [
  ["color-adjust", { image_url: image, edit_type: "color-adjust", brightness: 0.2 }, 320, 200],
  ["add-filter", { image_url: image, edit_type: "add-filter", filter: "sepia" }, 320, 200],
  ["resize", { image_url: image, edit_type: "resize", resize_width: 160 }, 160, 100],
];
for (const [name, body, width, height] of imageEdits) {
  const edited = must(`edit-image ${name}`, await editImage({ body })).edited_image_url;
  const meta = must("image-metadata", await getImageMetadata({ query: { image_url: edited } }));
  check(`edit-image ${name} is ${width}x${height}`, meta.width === width && meta.height === height, JSON.stringify(meta));
}

const video = must(
  "generate-video",
  await generateVideo({ body: { prompt: "waves", duration: 2, fps: 12, width: 160, height: 96 } }),
).video_url;
const videoEdits: [string, TrimVideo | FilterVideo | AdjustVideoSpeed, number][] = [
  ["trim", { video_url: video, edit_type: "trim", start_time: 1 }, 1],
  ["add-filter", { video_url: video, edit_type: "add-filter", filter: "black-and-white" }, 2],
  ["adjust-speed", { video_url: video, edit_type: "adjust-speed", speed_factor: 2 }, 1],
];
for (const [name, body, seconds] of videoEdits) {
  const edited = must(`edit-video ${name}`, await editVideo({ body })).edited_video_url;
  const meta = must("video-metadata", await getVideoMetadata({ query: { video_url: edited } }));
  check(
    `edit-video ${name} lasts ${seconds} s`,
    Math.abs((meta.duration_seconds ?? 0) - seconds) < 0.2,
    JSON.stringify(meta),
  );
}

const invalid = await editImage({ body: { image_url: image, edit_type: "resize", resize_width: 9000 } });
const error: ErrorResponse | undefined = invalid.error;
check(
  "a broken rule is a typed 422 error",
  invalid.response?.status === 422 && error?.error.param === "resize_width",
  JSON.stringify(invalid.error),
);

const deleted = await deleteMedia({ query: { media_url: image, auth_token: key } });
check("delete-media confirms", deleted.data?.message === "Media successfully deleted", JSON.stringify(deleted.error));
const gone = await getImageMetadata({ query: { image_url: image } });
check("the deleted image is gone", gone.response?.status === 404);

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
