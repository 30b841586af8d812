// The log panel: one action or rule execution's log, followed by long-poll of /pipemu/logs
// (the daemon holds each request until a line arrives, so nothing polls on a timer).

import { getJson } from "/ui/aws.js";
import { h, SYMBOLS, toast } from "/ui/dom.js";

const LOG_WAIT_SECONDS = 25;

export const logView = {
  id: null,
  abort: null,
  lines: h("pre", { class: "log-lines", id: "log-lines" }),
  title: h("span", { id: "log-title" }, "Log"),
  status: h("span", { id: "log-status", class: "mark" }),
  panel: null,
  stop() {
    if (this.abort) this.abort.abort();
    this.abort = null;
  },
  reset() {
    this.id = null;
    this.title.textContent = "Log";
    this.status.textContent = "";
    this.status.className = "mark";
    this.lines.replaceChildren(h("span", { class: "hint" }, "Click an action to see its log."));
  },
};
logView.panel = h("section", { class: "panel log", id: "log" }, h("h3", {}, logView.title, " ", logView.status), logView.lines);
logView.reset();

export async function followLog(actionExecutionId, title) {
  logView.stop();
  const abort = new AbortController();
  logView.abort = abort;
  logView.id = actionExecutionId;
  logView.title.textContent = title;
  logView.lines.replaceChildren();
  document.querySelectorAll(".action").forEach((el) => {
    el.classList.toggle("selected", el.dataset.actionExecution === actionExecutionId);
  });
  let after = 0;
  let wait = 0;  // the first answer at once; then the daemon holds each request until a line arrives
  try {
    for (;;) {
      const answer = await getJson(`/pipemu/logs/${encodeURIComponent(actionExecutionId)}?after=${after}&wait=${wait}`,
        { signal: abort.signal });
      const pane = logView.lines;
      const atBottom = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 40;
      for (const line of answer.lines) {
        pane.append(h("span", { class: "log-line", "data-seq": line.seq },
          h("span", { class: "log-at" }, new Date(line.at * 1000).toLocaleTimeString()), " ", line.text, "\n"));
        after = line.seq;
      }
      if (atBottom) pane.scrollTop = pane.scrollHeight;
      logView.status.textContent = answer.status === "InProgress" ? "◯ following" : `${SYMBOLS[answer.status] || ""} ${answer.status}`;
      logView.status.className = `mark s-${answer.status}`;
      if (answer.status !== "InProgress") {
        if (!pane.childElementCount) pane.append(h("span", { class: "hint" }, "(no output)"));
        return;
      }
      wait = LOG_WAIT_SECONDS;
    }
  } catch (error) {
    if (error.name !== "AbortError") toast(`log: ${error.message}`);
  }
}
