// A stage's conditions, their rules and its retries, as GetPipelineState tells them: the stage
// block's condition panels (click a rule: its log) and the article cell's short notes.

import { firstLine, h, statusMark, when } from "/ui/dom.js";
import { followLog, logView } from "/ui/logs.js";

// A stage's conditions: GetPipelineState's member for each, and how the page names them.
const CONDITIONS = [
  { member: "beforeEntryConditionState", type: "BEFORE_ENTRY", name: "entry", held: "held at entry" },
  { member: "onSuccessConditionState", type: "ON_SUCCESS", name: "success", held: "held on success" },
  { member: "onFailureConditionState", type: "ON_FAILURE", name: "failure", held: "held on failure" },
];

// The conditions the stage's latest execution judged, each with its rules in declared order.
export function conditionsOf(stage) {
  return CONDITIONS.filter((c) => stage[c.member]).map((c) => {
    const { latestExecution, conditionStates } = stage[c.member];
    return { ...c, status: latestExecution?.status || "none", summary: latestExecution?.summary,
      rules: conditionStates?.[0]?.ruleStates || [] };
  });
}

// "◯ held at entry: rule ReleaseWindow InProgress", "✗ entry condition Failed: rule X: its message",
// "✓ success condition Succeeded", "⤼ entry condition Overridden by ...": the rule it waits for or
// failed on, if any.
function conditionHeadline(condition) {
  const held = condition.status === "InProgress";
  const rule = condition.rules.find((r) => r.latestExecution?.status === (held ? "InProgress" : "Failed"));
  const mark = [statusMark(condition.status), " "];
  if (!rule) {
    const summary = condition.summary || "";
    return [mark, held ? condition.held : `${condition.name} condition `,
      held ? (summary ? `: ${firstLine(summary, 80)}` : null)
        : summary.startsWith(condition.status) ? firstLine(summary, 80)
          : [condition.status, summary ? `: ${firstLine(summary, 80)}` : null]];
  }
  const latest = rule.latestExecution;
  const detail = latest.errorDetails?.message || (held ? latest.status : latest.summary);
  return [mark, held ? condition.held : `${condition.name} condition ${condition.status}`,
    ": rule ", h("strong", {}, rule.ruleName), detail ? `${held ? " " : ": "}${firstLine(detail, 80)}` : null];
}

function ruleRow(stage, rule) {
  const latest = rule.latestExecution;
  const id = latest?.ruleExecutionId;
  const open = () => id && followLog(id, `${stage.stageName} · rule ${rule.ruleName}`);
  return h("li", { class: `action rule s-${latest ? latest.status : "none"}${id && id === logView.id ? " selected" : ""}`,
    "data-rule": rule.ruleName, "data-action-execution": id, "data-status": latest ? latest.status : "",
    tabindex: id ? "0" : null, title: id ? "show the rule's log" : "not run yet", onclick: open,
    onkeydown: (event) => { if (event.key === "Enter") open(); } },
  h("span", { class: "action-name" }, `rule ${rule.ruleName}`),
  latest ? statusMark(latest.status) : h("span", { class: "mark s-none" }, "not run"),
  latest?.errorDetails ? h("span", { class: "action-error" }, firstLine(latest.errorDetails.message, 80))
    : latest?.summary ? h("span", { class: "action-summary" }, firstLine(latest.summary, 60)) : null,
  latest ? h("span", { class: "action-time" }, when(latest.lastStatusChange)) : null);
}

// On the stage block: one condition, its headline and each rule (click: its log).
export function conditionBlock(stage, condition) {
  return h("div", { class: `condition s-${condition.status}`, "data-condition": condition.type,
    "data-status": condition.status },
  h("div", { class: "condition-head" }, conditionHeadline(condition)),
  h("ul", { class: "actions rules" }, condition.rules.map((rule) => ruleRow(stage, rule))));
}

// In the article's cell: only a condition that holds the stage or failed it.
export function conditionNotes(stage) {
  return conditionsOf(stage).filter((c) => c.status === "InProgress" || c.status === "Failed")
    .map((c) => h("div", { class: `condition-note s-${c.status}`, "data-condition": c.type }, conditionHeadline(c)));
}

// "auto retry 1": the stage's retryStageMetadata, briefly.
export function retryBadge(stage) {
  const retry = stage.retryStageMetadata;
  if (!retry) return null;
  const attempts = [retry.autoStageRetryAttempt ? `auto retry ${retry.autoStageRetryAttempt}` : null,
    retry.manualStageRetryAttempt ? `manual retry ${retry.manualStageRetryAttempt}` : null].filter(Boolean);
  return attempts.length ? h("span", { class: "badge retry-meta", title: `latest: ${retry.latestRetryTrigger || ""}` },
    `↻ ${attempts.join(", ")}`) : null;
}
