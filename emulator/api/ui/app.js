// pipemu's dashboard: the article's table of changes moving through stages, a pipeline's stages
// (their conditions and rules, rollbacks and retries), approvals, logs and history, live, and the
// local CloudWatch alarms. It talks to the daemon like any client: AWS's JSON APIs at POST /
// (CodePipeline's JSON 1.1, CloudWatch's JSON 1.0; SigV4-signed here when the daemon has
// credentials) and pipemu's read-only endpoints
// /pipemu/events (server-sent events: refetch when the state moves), /pipemu/logs (long-poll), signed alike,
// and /health (definition errors). Nothing polls on a timer (the timeline's one-second tick only
// redraws what is known); nothing reloads the page.

import { alignedColumns, timeline } from "/ui/timeline.js";

// The two JSON APIs the page calls: what each request carries, and the service it is signed for.
const CODEPIPELINE = { target: "CodePipeline_20150709.", contentType: "application/x-amz-json-1.1", service: "codepipeline" };
const CLOUDWATCH = { target: "GraniteServiceVersion20100801.", contentType: "application/x-amz-json-1.0", service: "monitoring" };
const ALARM_STATES = ["OK", "ALARM"];  // what a user flips an alarm to here (the CLI also sets INSUFFICIENT_DATA)
const SYMBOLS = { InProgress: "◯", Succeeded: "✓", Failed: "✗", Superseded: "superseded", Stopped: "stopped",
  Stopping: "stopping", Cancelled: "cancelled", Abandoned: "abandoned", Skipped: "skipped", Errored: "✗",
  Overridden: "⤼" };
const AUTH_ERRORS = new Set(["MissingAuthenticationTokenException", "UnrecognizedClientException",
  "InvalidSignatureException", "IncompleteSignatureException"]);
// A stage's conditions: GetPipelineState's member for each, and how the page names them.
const CONDITIONS = [
  { member: "beforeEntryConditionState", type: "BEFORE_ENTRY", name: "entry", held: "held at entry" },
  { member: "onSuccessConditionState", type: "ON_SUCCESS", name: "success", held: "held on success" },
  { member: "onFailureConditionState", type: "ON_FAILURE", name: "failure", held: "held on failure" },
];
const HISTORY_SIZE = 25;
const LOG_WAIT_SECONDS = 25;

// ---------------------------------------------------------------- DOM, by hand (text, never HTML)

function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const $ = (id) => document.getElementById(id);
const shortSha = (id) => (id || "").slice(0, 7);
const firstLine = (text, max = 40) => {
  const line = (text || "").split("\n")[0];
  return line.length > max ? line.slice(0, max - 1) + "…" : line;
};

function when(epochSeconds) {
  if (epochSeconds === undefined || epochSeconds === null) return "";
  const date = new Date(epochSeconds * 1000);
  const today = date.toDateString() === new Date().toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}

function toast(message, kind = "error") {
  const note = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message,
    h("button", { class: "quiet", type: "button", "aria-label": "dismiss", onclick: () => note.remove() }, "×"));
  $("toasts").append(note);
  if (kind !== "error") setTimeout(() => note.remove(), 4000);  // good news fades; errors stay until dismissed
}

// ---------------------------------------------------------------- SigV4 in the browser (Web Crypto)

const encoder = new TextEncoder();
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

async function sha256Hex(text) {
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

async function hmac(key, text) {
  const raw = typeof key === "string" ? encoder.encode(key) : key;
  const cryptoKey = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(text));
}

// The Authorization and X-Amz-Date headers for a request with these (lower-case) headers and body,
// as botocore's SigV4Auth computes them: the daemon recomputes the signature with it. `path` may
// carry a query, kept as written and its pairs sorted (botocore's canonical query string).
async function signV4(method, path, headers, body, { accessKey, secretKey, region }, service = "codepipeline") {
  if (!globalThis.crypto?.subtle) {
    throw new ApiError("SigningUnavailable",
      "This browser signs only on a secure page (https, localhost or 127.0.0.1): open the dashboard there");
  }
  const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");  // 20260101T120000Z
  const day = amzDate.slice(0, 8);
  const [uri, query = ""] = path.split("?", 2);
  const canonicalQuery = query ? query.split("&").map((pair) => {
    const at = pair.indexOf("=");
    return at < 0 ? [pair, ""] : [pair.slice(0, at), pair.slice(at + 1)];
  }).sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`).join("&") : "";
  const signed = { ...headers, host: location.host, "x-amz-date": amzDate };
  const names = Object.keys(signed).sort();
  const canonicalHeaders = names.map((n) => `${n}:${String(signed[n]).trim().replace(/\s+/g, " ")}\n`).join("");
  const signedHeaders = names.join(";");
  const canonicalRequest = [method, uri, canonicalQuery, canonicalHeaders, signedHeaders, await sha256Hex(body)].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256Hex(canonicalRequest)].join("\n");
  let key = await hmac(`AWS4${secretKey}`, day);
  for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, stringToSign));
  return {
    "x-amz-date": amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

// ---------------------------------------------------------------- credentials (asked when needed)

const CREDENTIALS = "pipemu.credentials";  // sessionStorage: gone with the tab
const REGION = "pipemu.region";             // localStorage: a setting, not a secret

function savedCredentials() {
  try {
    return JSON.parse(sessionStorage.getItem(CREDENTIALS) || "null");
  } catch {
    return null;
  }
}

let asking = null;  // one dialog for every request that needs it

function askCredentials(problem) {
  if (!asking) {
    asking = new Promise((resolve) => {
      const dialog = $("credentials");
      const form = $("credentials-form");
      const error = $("credentials-error");
      const saved = savedCredentials();
      form.accessKey.value = saved?.accessKey || "";
      form.secretKey.value = "";
      form.region.value = saved?.region || localStorage.getItem(REGION) || "us-east-1";
      error.hidden = !problem;
      error.textContent = problem || "";
      form.onsubmit = (event) => {
        event.preventDefault();
        const credentials = { accessKey: form.accessKey.value.trim(), secretKey: form.secretKey.value,
          region: form.region.value.trim() || "us-east-1" };
        sessionStorage.setItem(CREDENTIALS, JSON.stringify(credentials));
        localStorage.setItem(REGION, credentials.region);
        $("credentials-button").hidden = false;
        dialog.close();
        asking = null;
        resolve();
      };
      dialog.oncancel = (event) => event.preventDefault();  // the daemon answers nothing without them
      dialog.showModal();
      (form.accessKey.value ? form.secretKey : form.accessKey).focus();
    });
  }
  return asking;
}

// ---------------------------------------------------------------- the daemon's APIs

class ApiError extends Error {
  constructor(type, message) {
    super(`${type}: ${message}`);
    this.type = type;
  }
}

// AWS's JSON APIs (CodePipeline by default, or `api` CLOUDWATCH). Every state-changing request
// goes this way: POST / with the custom X-Amz-Target header, which a cross-site form cannot send
// (and the daemon refuses a foreign Origin): CloudWatch's alarms too, though the daemon also takes
// its query protocol's forms.
async function call(operation, body = {}, api = CODEPIPELINE) {
  for (;;) {
    const text = JSON.stringify(body);
    const headers = { "content-type": api.contentType, "x-amz-target": api.target + operation };
    const credentials = savedCredentials();
    const signature = credentials ? await signV4("POST", "/", headers, text, credentials, api.service) : {};
    const response = await fetch("/", { method: "POST", headers: { ...headers, ...signature }, body: text,
      cache: "no-store", credentials: "same-origin" });
    const answer = await response.json().catch(() => ({}));
    if (response.ok) return answer;
    const type = answer.__type || `HTTP ${response.status}`;
    if (AUTH_ERRORS.has(type)) {
      // The daemon has credentials: ask for them (again, if these were refused), then retry.
      await askCredentials(type === "MissingAuthenticationTokenException" && !credentials ? "" : answer.message);
      continue;
    }
    throw new ApiError(type, answer.message || response.statusText);
  }
}

// pipemu's own endpoints (/health, /pipemu/logs, /pipemu/events) are read-only GETs, signed like
// the API when credentials were given (a daemon with credentials answers nothing unsigned); a
// cross-site page cannot read their answers (no CORS).
async function signedGet(path, options = {}) {
  for (;;) {
    const credentials = savedCredentials();
    const signature = credentials ? await signV4("GET", path, {}, "", credentials) : {};
    const response = await fetch(path, { cache: "no-store", ...options, headers: signature });
    if (response.ok) return response;
    const answer = await response.clone().json().catch(() => ({}));
    if (AUTH_ERRORS.has(answer.__type)) {
      await askCredentials(answer.__type === "MissingAuthenticationTokenException" && !credentials ? "" : answer.message);
      continue;
    }
    return response;
  }
}

async function getJson(path, options = {}) {
  const response = await signedGet(path, options);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(answer.__type || `HTTP ${response.status}`, answer.message || path);
  return answer;
}

async function allPipelines() {
  const pipelines = [];
  let nextToken;
  do {
    const page = await call("ListPipelines", nextToken ? { nextToken } : {});
    pipelines.push(...page.pipelines);
    nextToken = page.nextToken;
  } while (nextToken);
  return pipelines.sort((a, b) => a.name.localeCompare(b.name));
}

async function allAlarms() {
  const alarms = [];
  let NextToken;
  do {
    const page = await call("DescribeAlarms", NextToken ? { NextToken } : {}, CLOUDWATCH);
    alarms.push(...(page.MetricAlarms || []));
    NextToken = page.NextToken;
  } while (NextToken);
  return alarms;
}

// ---------------------------------------------------------------- what the page knows

const model = {
  health: { definitionErrors: [], definitionWarnings: [] },
  pipelines: [],
  alarms: [],             // DescribeAlarms' MetricAlarms: the alarm stand-ins
  deliveries: [],         // GET /pipemu/deliveries: what the event rules' targets made of the events
  states: new Map(),      // pipeline name -> GetPipelineState
  history: new Map(),     // pipeline name -> ListPipelineExecutions summaries, newest first
  revisions: new Map(),   // execution id -> {revisionId, summary, rollbackTarget} (never change)
};
const drafts = new Map(); // approval token -> the summary being typed (survives redraws)

// The first source's revision, from ListPipelineExecutions' sourceRevisions or GetPipelineExecution's
// artifactRevisions (both have revisionId and revisionSummary), and the execution a ROLLBACK went back to.
function remember(executionId, revisions, execution) {
  const source = (revisions || [])[0];
  model.revisions.set(executionId, { revisionId: source?.revisionId || null, summary: source?.revisionSummary || null,
    rollbackTarget: execution.executionType === "ROLLBACK"
      ? execution.rollbackMetadata?.rollbackTargetPipelineExecutionId || "" : null });
}

async function loadPipeline(name, historySize) {
  const [state, executions] = await Promise.all([
    call("GetPipelineState", { name }),
    call("ListPipelineExecutions", { pipelineName: name, maxResults: historySize }),
  ]);
  model.states.set(name, state);
  model.history.set(name, executions.pipelineExecutionSummaries);
  executions.pipelineExecutionSummaries.forEach((e) => remember(e.pipelineExecutionId, e.sourceRevisions, e));
  // Executions older than the page of history still show in (or wait at) a stage: ask for them.
  const shown = state.stageStates.flatMap((s) => [s.latestExecution, ...(s.inboundExecutions || [])]).filter(Boolean);
  const unknown = [...new Set(shown.map((e) => e.pipelineExecutionId))].filter((id) => !model.revisions.has(id));
  await Promise.all(unknown.map(async (id) => {
    const { pipelineExecution } = await call("GetPipelineExecution", { pipelineName: name, pipelineExecutionId: id });
    remember(id, pipelineExecution.artifactRevisions, pipelineExecution);
  }));
}

async function load() {
  const [health, pipelines, alarms, events] = await Promise.all([getJson("/health"), allPipelines(), allAlarms(),
    getJson("/pipemu/deliveries").catch(() => ({ deliveries: [] }))]);
  model.health = health;
  model.pipelines = pipelines;
  model.alarms = alarms;
  model.deliveries = events.deliveries || [];
  const { pipeline } = route();
  const names = pipelines.map((p) => p.name).filter((name) => !pipeline || name === pipeline);
  for (const name of [...model.states.keys()]) {
    if (!names.includes(name)) model.states.delete(name);  // removed, or not on this page
  }
  await Promise.all(names.map((name) => loadPipeline(name, pipeline ? HISTORY_SIZE : 50)));
}

// Refetch and redraw; calls while one runs fold into one more run after it.
let refreshing = null;
let refreshAgain = false;

function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      refreshAgain = false;
      try {
        await load();
        render();
      } catch (error) {
        toast(error.message);
      }
    } while (refreshAgain);
    refreshing = null;
  })();
  return refreshing;
}

// ---------------------------------------------------------------- pieces of the page

function revisionOf(executionId) {
  const revision = model.revisions.get(executionId);
  if (!revision || !revision.revisionId) {
    return h("span", { class: "revision" }, h("code", { class: "sha" }, shortSha(executionId)));
  }
  return h("span", { class: "revision", title: `${revision.revisionId}\n${revision.summary || ""}` },
    h("code", { class: "sha" }, shortSha(revision.revisionId)),
    revision.summary ? " " : null,
    revision.summary ? h("span", { class: "message" }, firstLine(revision.summary, 28)) : null);
}

function statusMark(status) {
  return h("span", { class: `mark s-${status}`, title: status }, SYMBOLS[status] || status);
}

// "rollback → 1a2b3c4" beside an execution of type ROLLBACK (its target's short id), else nothing.
function rollbackBadge(executionId) {
  const target = model.revisions.get(executionId)?.rollbackTarget;
  if (target === null || target === undefined) return null;
  return h("span", { class: "badge rollback", title: target ? `rolled back to execution ${target}` : "rollback" },
    "rollback", target ? ` → ${shortSha(target)}` : "");
}

// ---------------------------------------------------------------- stage conditions and retries

// The conditions the stage's latest execution judged, each with its rules in declared order.
function conditionsOf(stage) {
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
function conditionBlock(stage, condition) {
  return h("div", { class: `condition s-${condition.status}`, "data-condition": condition.type,
    "data-status": condition.status },
  h("div", { class: "condition-head" }, conditionHeadline(condition)),
  h("ul", { class: "actions rules" }, condition.rules.map((rule) => ruleRow(stage, rule))));
}

// In the article's cell: only a condition that holds the stage or failed it.
function conditionNotes(stage) {
  return conditionsOf(stage).filter((c) => c.status === "InProgress" || c.status === "Failed")
    .map((c) => h("div", { class: `condition-note s-${c.status}`, "data-condition": c.type }, conditionHeadline(c)));
}

// "auto retry 1": the stage's retryStageMetadata, briefly.
function retryBadge(stage) {
  const retry = stage.retryStageMetadata;
  if (!retry) return null;
  const attempts = [retry.autoStageRetryAttempt ? `auto retry ${retry.autoStageRetryAttempt}` : null,
    retry.manualStageRetryAttempt ? `manual retry ${retry.manualStageRetryAttempt}` : null].filter(Boolean);
  return attempts.length ? h("span", { class: "badge retry-meta", title: `latest: ${retry.latestRetryTrigger || ""}` },
    `↻ ${attempts.join(", ")}`) : null;
}

function waitingOf(stage) {
  return stage.inboundExecutions || (stage.inboundExecution ? [stage.inboundExecution] : []);
}

// Who waits at the stage's entrance, and whether its transition is disabled; in the pipeline view
// (given `pipelineName`), with the button that enables a disabled one.
function entrance(stage, { pipelineName = null } = {}) {
  const compact = !pipelineName;
  const parts = [];
  const transition = stage.inboundTransitionState || { enabled: true };
  const about = { pipelineName, stageName: stage.stageName, transitionType: "Inbound" };
  if (!transition.enabled) {
    parts.push(h("div", { class: "gate-closed", title: transition.lastChangedBy || "" },
      "⊘ transition disabled", transition.disabledReason ? `: ${transition.disabledReason}` : ""));
    if (!compact) {
      parts.push(h("button", { type: "button", class: "quiet gate-button",
        onclick: () => act("EnableStageTransition", about, `Enabled the transition into ${stage.stageName}`) },
      "Enable transition"));
    }
  }
  for (const waiting of waitingOf(stage)) {
    parts.push(h("div", { class: "waiting", "data-waiting": waiting.pipelineExecutionId },
      "⇢ ", compact ? "waiting " : "waiting at the entrance: ", revisionOf(waiting.pipelineExecutionId)));
  }
  return parts;
}

// One cell of the article's table: the revision in the stage and how it fares, who waits before it.
function stageCell(stage) {
  const latest = stage.latestExecution;
  const status = latest ? latest.status : "none";
  return h("td", { class: `cell s-${status}`, "data-stage": stage.stageName, "data-status": latest ? status : "",
    "data-execution": latest ? latest.pipelineExecutionId : "" },
  entrance(stage),
  latest ? h("div", { class: "occupant" }, revisionOf(latest.pipelineExecutionId), " ", statusMark(status),
    rollbackBadge(latest.pipelineExecutionId)) : h("div", { class: "occupant none" }, "–"),
  conditionNotes(stage));
}

function stageNames(state) {
  return state.stageStates.map((s) => s.stageName);
}

// The article's table for some pipelines: a row per pipeline (named, unless it is the pipeline of
// the page), a column per stage name, so that same-named stages of a product's pipelines line up;
// a pipeline without a column's stage has an empty cell there.
function articleTable(names, named = true) {
  const columns = alignedColumns(names.map((name) => stageNames(model.states.get(name))));
  const cellOf = (name, column) => {
    const stage = model.states.get(name).stageStates.find((s) => s.stageName === column);
    return stage ? stageCell(stage) : h("td", { class: "cell absent", "data-stage": column, "data-absent": "" });
  };
  return h("table", { class: "article" },
    h("thead", {}, h("tr", {}, named ? h("th", { class: "name" }, "pipeline") : null,
      columns.map((s) => h("th", { "data-stage": s }, s)))),
    h("tbody", {}, names.map((name) => h("tr", { "data-pipeline": name },
      named ? h("th", { class: "name" }, h("a", { href: `#/pipeline/${encodeURIComponent(name)}` }, name)) : null,
      columns.map((column) => cellOf(name, column))))));
}

function approvalCards(name, named = false) {
  const state = model.states.get(name);
  const cards = [];
  for (const stage of state.stageStates) {
    for (const action of stage.actionStates) {
      const latest = action.latestExecution;
      if (latest && latest.status === "InProgress" && latest.token) cards.push(approvalCard(name, stage, action, named));
    }
  }
  return cards;
}

function approvalCard(pipelineName, stage, action, named) {
  const { token, summary } = action.latestExecution;
  const input = h("input", { class: "approval-summary", "data-key": `summary-${token}`, placeholder: "Summary (optional)",
    "aria-label": "approval summary", oninput: (event) => drafts.set(token, event.target.value) });
  input.value = drafts.get(token) || "";
  const answer = (status) => async (event) => {
    const buttons = event.target.closest(".approval").querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    const text = input.value.trim() || `${status} on the pipemu dashboard`;
    try {
      await call("PutApprovalResult", { pipelineName, stageName: stage.stageName, actionName: action.actionName,
        token, result: { summary: text, status } });
      drafts.delete(token);
      toast(`${status}: ${pipelineName} ${stage.stageName}`, "ok");
    } catch (error) {
      toast(error.message);
      buttons.forEach((b) => { b.disabled = false; });
    }
  };
  const execution = stage.latestExecution?.pipelineExecutionId;
  return h("div", { class: "approval", "data-pipeline": pipelineName, "data-stage": stage.stageName,
    "data-action": action.actionName, "data-token": token },
  h("div", { class: "approval-title" }, "Approval: ",
    named ? h("a", { href: `#/pipeline/${encodeURIComponent(pipelineName)}` }, pipelineName) : null, named ? " · " : null,
    h("strong", {}, `${stage.stageName} · ${action.actionName}`),
    execution ? [" for ", revisionOf(execution)] : null),
  summary ? h("p", { class: "custom-data" }, summary) : null,
  // Only http(s) links are links: a `javascript:` ExternalEntityLink stays text.
  action.entityUrl ? h("p", {}, /^https?:\/\//i.test(action.entityUrl)
    ? h("a", { class: "entity-url", href: action.entityUrl, target: "_blank", rel: "noopener noreferrer" }, action.entityUrl)
    : h("code", { class: "entity-url" }, action.entityUrl)) : null,
  h("div", { class: "approval-form" }, input,
    h("button", { type: "button", class: "approve", onclick: answer("Approved") }, "✓ Approve"),
    h("button", { type: "button", class: "reject", onclick: answer("Rejected") }, "✗ Reject")));
}

// ---------------------------------------------------------------- the overview: products side by side

function productOf(name) {
  return name.split("-")[0];
}

// The alarm stand-ins (alarms: in the pipelines folder), each with its state and buttons that set it.
function alarmsPanel() {
  if (!model.alarms.length) return null;
  const row = (alarm) => h("tr", { "data-alarm": alarm.AlarmName },
    h("th", { scope: "row", title: alarm.AlarmDescription || "" }, alarm.AlarmName),
    h("td", {}, h("span", { class: `alarm-state a-${alarm.StateValue}` }, alarm.StateValue)),
    h("td", { class: "alarm-reason" }, alarm.StateReason || "", h("span", { class: "when" }, ` ${when(alarm.StateUpdatedTimestamp)}`)),
    h("td", {}, ALARM_STATES.map((state) => h("button", { type: "button", class: "quiet",
      disabled: alarm.StateValue === state, onclick: () => setAlarm(alarm.AlarmName, state) }, `Set ${state}`))));
  return h("section", { class: "alarms" }, h("h2", {}, "Alarms"),
    h("table", { class: "alarm-table" }, h("tbody", {}, model.alarms.map(row))));
}

async function setAlarm(name, state) {
  try {
    await call("SetAlarmState", { AlarmName: name, StateValue: state, StateReason: "Set from the pipemu dashboard" },
      CLOUDWATCH);
    toast(`${name} is ${state}`, "ok");
  } catch (error) {
    toast(error.message);
  }
}

// The latest deliveries of the event rules (eventRules:, AWS::Events::Rule): a failed one says why.
function deliveriesPanel() {
  if (!model.deliveries.length) return null;
  const row = (d) => h("tr", { "data-status": d.status, "data-rule": d.rule },
    h("td", { class: "when" }, new Date(d.time * 1000).toLocaleTimeString()),
    h("th", { scope: "row" }, d.rule),
    h("td", {}, d.target),
    h("td", {}, `${d.pipeline || ""} ${d.state || ""}`),
    h("td", {}, h("span", { class: `delivery-status d-${d.status}` }, d.status)),
    h("td", { class: "delivery-reason" }, d.reason || ""));
  return h("section", { class: "deliveries" }, h("h2", {}, "Event deliveries"),
    h("table", { class: "delivery-table" }, h("tbody", {}, model.deliveries.slice(-10).reverse().map(row))));
}

function renderOverview(view) {
  if (!model.pipelines.length) {
    view.replaceChildren(h("p", { class: "empty" }, "No pipelines yet: put a definition in the pipelines folder."),
      alarmsPanel() || "", deliveriesPanel() || "");
    return;
  }
  const products = new Map();
  for (const { name } of model.pipelines) {
    if (!model.states.has(name)) continue;
    const product = productOf(name);
    if (!products.has(product)) products.set(product, []);
    products.get(product).push(name);
  }
  const sections = [];
  for (const [product, names] of products) {
    // One grid per product, its pipelines' stages aligned by name: the article's table read across services.
    const approvals = names.flatMap((name) => approvalCards(name, true));
    sections.push(h("section", { class: "product", "data-product": product },
      h("h2", {}, product),
      articleTable(names),
      approvals.length ? h("div", { class: "approvals" }, approvals) : null));
  }
  view.replaceChildren(...sections, alarmsPanel() || "", deliveriesPanel() || "");
}

// ---------------------------------------------------------------- one pipeline

function actionRow(pipelineName, stage, action) {
  const latest = action.latestExecution;
  const status = latest ? latest.status : "none";
  const id = latest?.actionExecutionId;
  const open = () => id && followLog(id, `${stage.stageName} · ${action.actionName}`);
  return h("li", { class: `action s-${status}${id && id === logView.id ? " selected" : ""}`,
    "data-action": action.actionName, "data-action-execution": id, "data-status": latest ? status : "", tabindex: id ? "0" : null,
    title: id ? "show the log" : "not run yet", onclick: open,
    onkeydown: (event) => { if (event.key === "Enter") open(); } },
  h("span", { class: "action-name" }, action.actionName),
  latest ? statusMark(status) : h("span", { class: "mark s-none" }, "not run"),
  latest?.token && status === "InProgress" ? h("span", { class: "action-summary awaiting" }, "waiting for approval")
    : latest?.summary ? h("span", { class: "action-summary" }, firstLine(latest.summary, 60)) : null,
  latest?.errorDetails ? h("span", { class: "action-error" }, firstLine(latest.errorDetails.message, 80)) : null,
  latest ? h("span", { class: "action-time" }, when(latest.lastStatusChange)) : null);
}

function stageCard(pipelineName, stage, first) {
  const latest = stage.latestExecution;
  const status = latest ? latest.status : "none";
  const conditions = conditionsOf(stage);
  const entry = conditions.filter((c) => c.type === "BEFORE_ENTRY");
  return h("div", { class: "stage-block", "data-stage": stage.stageName },
    h("div", { class: "entrance" }, entrance(stage, { pipelineName })),
    h("section", { class: `stage s-${status}`, "data-status": latest ? status : "" },
      h("header", {}, h("h3", {}, stage.stageName),
        latest ? [revisionOf(latest.pipelineExecutionId), statusMark(status), rollbackBadge(latest.pipelineExecutionId),
          retryBadge(stage)] : h("span", { class: "mark s-none" }, "–"),
        first || !(stage.inboundTransitionState?.enabled ?? true) ? null : h("button", { type: "button",
        class: "quiet gate-button", title: "hold changes at this stage's entrance",
        onclick: () => {
          const reason = window.prompt(`Why disable the transition into ${stage.stageName}?`, "Held on the dashboard");
          if (reason) {
            act("DisableStageTransition", { pipelineName, stageName: stage.stageName, transitionType: "Inbound",
              reason: reason.slice(0, 300) }, `Disabled the transition into ${stage.stageName}`);
          }
        } }, "⊘ disable transition"),
      latest && status === "Failed" ? h("button", { type: "button", class: "quiet retry",
          onclick: () => act("RetryStageExecution", { pipelineName, stageName: stage.stageName,
            pipelineExecutionId: latest.pipelineExecutionId, retryMode: "FAILED_ACTIONS" }, "Retrying") }, "↻ Retry") : null),
      entry.map((c) => conditionBlock(stage, c)),
      h("ul", { class: "actions" }, stage.actionStates.map((a) => actionRow(pipelineName, stage, a))),
      conditions.filter((c) => c.type !== "BEFORE_ENTRY").map((c) => conditionBlock(stage, c))));
}

async function act(operation, body, done) {
  try {
    await call(operation, body);
    toast(done, "ok");
  } catch (error) {
    toast(error.message);
  }
}

function historyTable(name) {
  const rows = model.history.get(name) || [];
  if (!rows.length) return h("p", { class: "empty" }, "No executions yet.");
  return h("table", { class: "history" },
    h("thead", {}, h("tr", {}, ["revision", "status", "started", "trigger"].map((c) => h("th", {}, c)))),
    h("tbody", {}, rows.map((e) => h("tr", { "data-execution": e.pipelineExecutionId,
      class: `s-${e.status}${e.pipelineExecutionId === executionView.id ? " selected" : ""}`,
      title: "its actions and their logs", onclick: () => showExecution(name, e.pipelineExecutionId) },
      h("td", {}, revisionOf(e.pipelineExecutionId)),
      h("td", {}, statusMark(e.status), " ", e.status),
      h("td", {}, when(e.startTime)),
      h("td", { class: "trigger" }, e.trigger ? e.trigger.triggerType : "", " ", rollbackBadge(e.pipelineExecutionId))))));
}

// One execution of the history: every action and rule it ran (retries too), each with its log, and
// the timeline of its actions. While it runs, each change notice refetches it (renderPipeline) and a
// one-second tick stretches the running bars from what is known: the tick asks the daemon nothing.
const executionView = { id: null, pipeline: null, actions: [], running: false, asked: 0, tick: null };

// Every page of a List...Executions operation for one execution.
async function allRuns(operation, member, pipelineName, executionId) {
  const runs = [];
  let nextToken;
  do {
    const page = await call(operation, { pipelineName, filter: { pipelineExecutionId: executionId },
      ...(nextToken ? { nextToken } : {}) });
    runs.push(...page[member]);
    nextToken = page.nextToken;
  } while (nextToken);
  return runs;
}

async function showExecution(pipelineName, executionId) {
  const asked = ++executionView.asked;  // an older answer arriving late never overwrites a newer one
  executionView.id = executionId;
  executionView.pipeline = pipelineName;
  document.querySelectorAll("table.history tr").forEach((row) => {
    row.classList.toggle("selected", row.dataset.execution === executionId);
  });
  let runs;
  let actions;
  try {
    let rules;
    [actions, rules] = await Promise.all([
      allRuns("ListActionExecutions", "actionExecutionDetails", pipelineName, executionId),
      allRuns("ListRuleExecutions", "ruleExecutionDetails", pipelineName, executionId)]);
    runs = [...actions.map((a) => ({ ...a, id: a.actionExecutionId, name: a.actionName, label: a.actionName })),
      ...rules.map((r) => ({ ...r, id: r.ruleExecutionId, name: r.ruleName, label: `rule ${r.ruleName}`, rule: true }))];
  } catch (error) {
    toast(error.message);
    return;
  }
  if (asked !== executionView.asked || executionView.id !== executionId) return;
  executionView.actions = actions;
  executionView.running = runs.some((run) => run.status === "InProgress");
  drawTimeline();
  runs.sort((a, b) => (a.startTime || 0) - (b.startTime || 0));
  $("execution").replaceChildren(h("h3", {}, "Execution ", revisionOf(executionId), rollbackBadge(executionId)),
    h("ul", { class: "actions" }, runs.map((run) => {
      const open = () => followLog(run.id, `${run.stageName} · ${run.label}`);
      return h("li", { class: `action${run.rule ? " rule" : ""} s-${run.status}`, "data-action-execution": run.id,
        [run.rule ? "data-rule" : "data-action"]: run.name, tabindex: "0", onclick: open,
        onkeydown: (event) => { if (event.key === "Enter") open(); } },
      h("span", { class: "action-name" }, `${run.stageName} · ${run.label}`), statusMark(run.status),
      h("span", { class: "action-time" }, when(run.startTime)));
    })));
  $("execution").hidden = false;
}

function drawTimeline() {
  const panel = $("timeline-panel");
  if (!panel || !executionView.id) {  // the page moved on: nothing to stretch any more
    clearInterval(executionView.tick);
    executionView.tick = null;
    return;
  }
  const state = model.states.get(executionView.pipeline);
  const open = (run) => followLog(run.actionExecutionId, `${run.stageName} · ${run.actionName}`);
  panel.replaceChildren(h("h3", {}, "Timeline of execution ", revisionOf(executionView.id)),
    timeline(executionView.actions, state ? stageNames(state) : [], Date.now() / 1000, open));
  panel.hidden = false;
  clearInterval(executionView.tick);
  executionView.tick = executionView.running ? setInterval(drawTimeline, 1000) : null;
}

// A selected execution still running (or that ran at its last look) is fetched again on each change.
function followExecution(name) {
  if (executionView.id === null || executionView.pipeline !== name) return;
  const summary = (model.history.get(name) || []).find((e) => e.pipelineExecutionId === executionView.id);
  if (executionView.running || summary?.status === "InProgress" || summary?.status === "Stopping") {
    showExecution(name, executionView.id);
  }
}

// The page's frame for one pipeline is built once per visit (the log panel lives on through redraws).
function pipelineFrame(view, name) {
  if (view.dataset.frame === name) return;
  view.dataset.frame = name;
  logView.stop();
  logView.reset();
  executionView.id = null;
  clearInterval(executionView.tick);
  executionView.running = false;
  view.replaceChildren(h("div", { class: "pipeline-head" },
    h("h2", { id: "pipeline-name" }, name),
    h("span", { id: "pipeline-meta", class: "meta" }),
    h("button", { type: "button", class: "primary", id: "release",
      onclick: () => act("StartPipelineExecution", { name }, `Started ${name}`) }, "Release change")),
  h("div", { id: "pipeline-row" }),
  h("div", { class: "columns" },
    h("div", { id: "stages", class: "stages" }),
    h("aside", { class: "side" },
      h("section", { class: "panel approvals-panel", id: "approvals-panel", hidden: true },
        h("h3", {}, "Waiting for approval"), h("p", { class: "review-note", id: "review-note", hidden: true }),
        h("div", { id: "approvals" })),
      logView.panel,
      h("section", { class: "panel" }, h("h3", {}, "History"), h("div", { id: "history" })),
      h("section", { class: "panel", id: "execution", hidden: true }))),
  h("section", { class: "panel timeline-panel", id: "timeline-panel", hidden: true }));
}

function renderPipeline(view, name) {
  const state = model.states.get(name);
  if (!state) {
    delete view.dataset.frame;
    view.replaceChildren(h("p", { class: "empty" }, `No pipeline named ${name}. `, h("a", { href: "#/" }, "All pipelines")));
    return;
  }
  pipelineFrame(view, name);
  const summary = model.pipelines.find((p) => p.name === name);
  $("pipeline-meta").textContent = `version ${state.pipelineVersion} · ${summary?.executionMode || "SUPERSEDED"}`;
  $("pipeline-row").replaceChildren(articleTable([name], false));
  const approvals = approvalCards(name);
  $("approvals").replaceChildren(...approvals);
  const { review } = route();
  $("approvals-panel").hidden = !approvals.length && !review;
  if (review) showReview(name, review);
  else $("review-note").hidden = true;
  $("stages").replaceChildren(...state.stageStates.map((s, i) => stageCard(name, s, i === 0)));
  $("history").replaceChildren(historyTable(name));
  followExecution(name);
}

// ---------------------------------------------------------------- logs, followed by long-poll

const logView = {
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

async function followLog(actionExecutionId, title) {
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

// ---------------------------------------------------------------- routes, drawing, live updates

// #/pipeline/NAME, or an approval's review link (an approval notification's approvalReviewLink,
// shaped as AWS's console link): #/pipeline/NAME/STAGE/ACTION/approve/TOKEN.
function route() {
  const review = location.hash.match(/^#\/pipeline\/([^/]+)\/([^/]+)\/([^/]+)\/approve\/([^/]+)$/);
  if (review) {
    const [pipeline, stage, action, token] = review.slice(1).map(decodeURIComponent);
    return { pipeline, review: { stage, action, token } };
  }
  const match = location.hash.match(/^#\/pipeline\/(.+)$/);
  return { pipeline: match ? decodeURIComponent(match[1]) : null, review: null };
}

// The approval a review link names: its card is marked and brought into view (once per link),
// or a note says it is no longer waiting (answered, timed out, or superseded).
let reviewShown = null;
function showReview(name, review) {
  const note = $("review-note");
  const card = [...document.querySelectorAll("#approvals .approval")].find((c) =>
    c.dataset.stage === review.stage && c.dataset.action === review.action && c.dataset.token === review.token);
  document.querySelectorAll("#approvals .approval.reviewed").forEach((c) => c.classList.remove("reviewed"));
  if (card) {
    card.classList.add("reviewed");
    note.hidden = true;
  } else {
    note.hidden = false;
    note.textContent = `The approval ${review.stage} · ${review.action} of ${name} this link names is no longer waiting ` +
      "(answered, timed out or superseded).";
  }
  const key = location.hash;
  if (card && reviewShown !== key) {
    reviewShown = key;
    card.scrollIntoView({ block: "center" });
    card.querySelector("input")?.focus();
  }
}

function renderErrors() {
  const errors = model.health.definitionErrors || [];
  const box = $("definition-errors");
  box.hidden = !errors.length;
  box.replaceChildren(h("h2", {}, `Definition errors (${errors.length})`),
    h("ul", {}, errors.map((e) => h("li", {}, h("code", {}, e)))));
  // Fields accepted but not carried out here: folded, since a real pipeline may have many.
  const warnings = model.health.definitionWarnings || [];
  const notes = $("definition-warnings");
  notes.hidden = !warnings.length;
  notes.replaceChildren(h("details", {}, h("summary", {}, `Not carried out here (${warnings.length} warnings)`),
    h("ul", {}, warnings.map((w) => h("li", {}, h("code", {}, w))))));
}

function render() {
  // A redraw keeps the focus and caret of the field being typed in (an approval's summary).
  const focused = document.activeElement?.dataset?.key;
  const caret = focused ? document.activeElement.selectionStart : null;
  renderErrors();
  const view = $("view");
  const { pipeline } = route();
  $("crumbs").replaceChildren(...(pipeline ? [h("a", { href: "#/" }, "all pipelines"), " / ", pipeline] : ["all pipelines"]));
  if (pipeline) {
    renderPipeline(view, pipeline);
  } else {
    delete view.dataset.frame;
    logView.stop();
    renderOverview(view);
  }
  if (focused) {
    const field = document.querySelector(`[data-key="${CSS.escape(focused)}"]`);
    if (field) {
      field.focus();
      field.setSelectionRange(caret, caret);
    }
  }
}

// The change notices, as server-sent events read through fetch: EventSource cannot sign.
async function listen() {
  const live = $("live");
  for (;;) {
    try {
      // ?aws=true: a delivery of an event rule (event: delivery) redraws too; the AWS events
      // themselves (event: aws) come with a change notice of their own.
      const response = await signedGet("/pipemu/events?aws=true");
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      live.textContent = "● live";
      live.className = "live on";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          // The first message arrives on connecting: the first load. Heartbeats are comments.
          const lines = block.split("\n");
          if (lines.some((line) => line.startsWith("data:")) && !lines.includes("event: aws")) refresh();
        }
      }
    } catch {
      // the daemon went away: try again below
    }
    live.textContent = "reconnecting…";
    live.className = "live off";
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

function start() {
  if (savedCredentials()) $("credentials-button").hidden = false;
  $("credentials-button").onclick = () => askCredentials("").then(refresh);
  window.addEventListener("hashchange", () => {
    const view = $("view");
    view.replaceChildren(h("p", { class: "empty" }, "Loading…"));
    delete view.dataset.frame;
    refresh();
  });
  listen();
}

start();
