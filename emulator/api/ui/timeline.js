// The execution timeline and the aligned grid's columns: pure drawing from what the API answered,
// in a module of its own so that app.js (the page's state and routes) stays readable.
//
// timeline(runs, stageOrder, now): each action execution of one pipeline execution (ListActionExecutions'
// actionExecutionDetails) as a bar on a time axis shared by all, from its startTime to its
// lastUpdateTime (to `now` while it runs), grouped stage by stage in the pipeline's order and
// coloured by status. AWS's console draws no such chart; its numbers are the API's own.
//
// alignedColumns(lists): the stage names of several pipelines merged into one column order, so
// that same-named stages of a product's pipelines sit in one column of the overview's grid.

import { h } from "/ui/dom.js";

// 0.4 s, 12 s, 3 min 05 s: a duration as a reader says it.
export function duration(seconds) {
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;
}

// Where a run ends on the axis: its last update once finished, now while it runs.
function endOf(run, now) {
  return run.status === "InProgress" ? Math.max(now, run.startTime) : (run.lastUpdateTime || run.startTime);
}

// A tick every 1, 2, 5, 10, 15, 30, 60, 120, 300... seconds: about five on the axis.
function tickStep(span) {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  return steps.find((step) => span / step <= 6) || Math.ceil(span / 6 / 3600) * 3600;
}

export function timeline(runs, stageOrder, now, open = null) {
  const timed = runs.filter((run) => run.startTime);
  if (!timed.length) return h("p", { class: "empty timeline-empty" }, "No action has started yet.");
  const start = Math.min(...timed.map((run) => run.startTime));
  const end = Math.max(...timed.map((run) => endOf(run, now)));
  const span = Math.max(end - start, 0.001);
  const percent = (seconds) => `${(seconds / span) * 100}%`;
  const step = tickStep(span);
  const ticks = [];
  for (let at = 0; at <= span; at += step) {
    const tick = h("span", { class: "timeline-tick" }, duration(at));
    tick.style.left = percent(at);  // CSSOM, not a style attribute: the page's CSP allows no inline style
    ticks.push(tick);
  }
  const stages = [...new Set([...stageOrder, ...timed.map((run) => run.stageName)])]
    .filter((name) => timed.some((run) => run.stageName === name));
  return h("section", { class: "timeline", "data-span": span.toFixed(3) },
    h("div", { class: "timeline-row timeline-axis" }, h("span", { class: "timeline-label" }),
      h("div", { class: "timeline-track" }, ticks)),
    stages.map((stage) => h("div", { class: "timeline-stage", "data-stage": stage },
      h("div", { class: "timeline-stage-name" }, stage),
      timed.filter((run) => run.stageName === stage)
        .sort((a, b) => a.startTime - b.startTime)
        .map((run) => bar(run, start, now, percent, open)))));
}

function bar(run, start, now, percent, open) {
  const seconds = endOf(run, now) - run.startTime;
  const label = run.rule ? `rule ${run.actionName || run.ruleName}` : run.actionName;
  const shape = h("div", { class: `timeline-bar s-${run.status}`, "data-status": run.status,
    "data-start": (run.startTime - start).toFixed(3), "data-duration": seconds.toFixed(3),
    title: `${label}: ${run.status}, started ${new Date(run.startTime * 1000).toLocaleTimeString()}, ` +
      `${duration(seconds)}${run.status === "InProgress" ? " so far" : ""}` });
  shape.style.left = percent(run.startTime - start);
  shape.style.width = percent(seconds);
  return h("div", { class: "timeline-row", "data-action": label, "data-action-execution": run.actionExecutionId,
    onclick: open ? () => open(run) : null },
  h("span", { class: "timeline-label" }, label),
  h("div", { class: "timeline-track" }, shape),
  h("span", { class: "timeline-duration" }, duration(seconds)));
}

// Each pipeline's stages keep their order; a stage name not seen yet goes just before the next
// of its pipeline's stages already placed (E2ETesting before StagingQA), or last.
export function alignedColumns(lists) {
  const columns = [];
  for (const names of lists) {
    let at = -1;  // the column of this pipeline's previous stage
    names.forEach((name, i) => {
      const found = columns.indexOf(name);
      if (found >= 0) {
        at = Math.max(at, found);
        return;
      }
      const next = names.slice(i + 1).map((later) => columns.indexOf(later)).find((index) => index > at);
      const place = next === undefined ? columns.length : next;
      columns.splice(place, 0, name);
      at = place;
    });
  }
  return columns;
}
