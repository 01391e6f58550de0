// A TypeScript client generated from openapi/runway.yaml (openapi-typescript +
// openapi-fetch) drives a running runway-server: generate an image, edit it, read
// its metadata, download it, delete it; then the same as a task, created and
// waited for. Type-checked against the generated types.
//
//   RUNWAY_BASE_URL=http://127.0.0.1:8080 RUNWAY_API_KEY=... node dist/roundtrip.js

import createClient from "openapi-fetch";
import type { paths } from "./runway.js";

const baseUrl = process.env.RUNWAY_BASE_URL ?? "http://127.0.0.1:8080";
const key = process.env.RUNWAY_API_KEY;
if (!key) {
  throw new Error("RUNWAY_API_KEY is not set");
}
const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${key}` } });

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

const generated = await client.POST("/v1/generate-image", {
  body: { prompt: "a harbour at dawn", style: "photorealistic", width: 320, height: 200 },
});
if (!generated.data) throw new Error(`generate-image: ${JSON.stringify(generated.error)}`);
check("generate-image answers an image URL", generated.data.image_url.endsWith(".jpg"));

const edited = await client.POST("/v1/edit-image", {
  body: { image_url: generated.data.image_url, edit_type: "add-filter", filter: "sepia" },
});
if (!edited.data) throw new Error(`edit-image: ${JSON.stringify(edited.error)}`);
const url = edited.data.edited_image_url;
check("edit-image answers another image URL", url !== generated.data.image_url);

const meta = await client.GET("/v1/image-metadata", { params: { query: { image_url: url } } });
if (!meta.data) throw new Error(`image-metadata: ${JSON.stringify(meta.error)}`);
check("metadata has the size", meta.data.width === 320 && meta.data.height === 200, JSON.stringify(meta.data));

const download = await fetch(url);
const bytes = new Uint8Array(await download.arrayBuffer());
check(
  "the download is the JPEG the metadata describes",
  download.status === 200 &&
    bytes[0] === 0xff &&
    bytes[1] === 0xd8 &&
    bytes.length === meta.data.size_bytes &&
    download.headers.get("content-type") === "image/jpeg",
  `${download.status} ${bytes.length} ${meta.data.size_bytes}`,
);

const invalid = await client.POST("/v1/edit-image", {
  body: { image_url: url, edit_type: "resize", resize_width: 9000 },
});
check(
  "a broken rule is a typed 422 error",
  invalid.response.status === 422 && invalid.error?.error.param === "resize_width",
  JSON.stringify(invalid.error),
);

const deleted = await client.DELETE("/v1/delete-media", {
  params: { query: { media_url: url, auth_token: key } },
});
check("delete-media confirms", deleted.data?.message === "Media successfully deleted", JSON.stringify(deleted.error));
check("the deleted media is gone", (await fetch(url)).status === 404);

// The same work as a task: created at once (202), then polled until it is done.
const created = await client.POST("/v1/tasks", {
  body: { operation: "generate-image", input: { prompt: "a task", width: 64, height: 48 } },
});
check("create_task answers 202 with a pending task", created.response.status === 202 && created.data?.status === "pending");
const taskId = created.data?.id ?? "";
let task = created.data;
for (let i = 0; i < 100 && task && (task.status === "pending" || task.status === "running"); i++) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  task = (await client.GET("/v1/tasks/{task_id}", { params: { path: { task_id: taskId } } })).data;
}
const taskImage = task?.output?.image_url;
check("the task succeeds with the image URL", task?.status === "succeeded" && task.progress === 1 && !!taskImage, JSON.stringify(task));
if (taskImage) {
  const taskMeta = await client.GET("/v1/image-metadata", { params: { query: { image_url: taskImage } } });
  check("the task's image is 64x48", taskMeta.data?.width === 64 && taskMeta.data?.height === 48);
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
