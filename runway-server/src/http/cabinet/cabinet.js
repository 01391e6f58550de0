// The cabinet's behaviour: copy a new key, and follow running tasks live. The
// pages work without it (forms post, links load); this only adds to them.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-copy-from]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copyFrom);
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = "Copied";
      } catch {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Selected: press Ctrl+C";
      }
    });
  }

  // A browser keeps six connections to a server: follow at most four tasks,
  // the newest, so that links and forms never wait for a free one.
  let following = 0;
  for (const card of document.querySelectorAll("[data-task-id]")) {
    const status = card.dataset.status;
    if (status !== "pending" && status !== "running") continue;
    if (following === 4) break;
    following += 1;
    follow(card);
  }
});

// Updates a task's card from its event stream until the task ends.
function follow(card) {
  const id = card.dataset.taskId;
  const events = new EventSource(`/cabinet/tasks/${encodeURIComponent(id)}/events`);
  events.addEventListener("task", (event) => {
    const task = JSON.parse(event.data);
    card.dataset.status = task.status;
    card.querySelector(".status").textContent = task.status;
    const percent = `${Math.round(task.progress * 100)}%`;
    const bar = card.querySelector("progress");
    bar.value = task.progress;
    bar.textContent = percent;
    card.querySelector(".percent").textContent = percent;
    const finished = ["succeeded", "failed", "cancelled"].includes(task.status);
    if (!finished) return;
    events.close();
    const output = card.querySelector(".output");
    output.replaceChildren();
    const url = task.output && Object.values(task.output).find((v) => typeof v === "string");
    if (url) {
      const link = document.createElement("a");
      link.href = url;
      link.textContent = "Output";
      output.append(link);
    }
    if (task.error) {
      const problem = document.createElement("span");
      problem.className = "problem";
      problem.textContent = `${task.error.code}: ${task.error.message}`;
      output.append(problem);
    }
    const cancel = card.querySelector("form.cancel");
    if (cancel) cancel.remove();
  });
  events.addEventListener("error", () => {
    // The browser reconnects by itself (with Last-Event-ID); a closed stream
    // after the end is not an error worth showing.
  });
}
