// pipemu's dashboard: the article's table of changes moving through stages, a pipeline's stages
// (their conditions and rules, rollbacks and retries), approvals, logs and history, live, and the
// local CloudWatch alarms. It talks to the daemon like any client: AWS's JSON APIs at POST /
// (CodePipeline's JSON 1.1, CloudWatch's JSON 1.0; SigV4-signed here when the daemon has
// credentials) and pipemu's read-only endpoints
// /pipemu/events (server-sent events: refetch when the state moves), /pipemu/logs (long-poll), signed alike,
// and /health (definition errors). Nothing polls on a timer (the timeline's one-second tick only
// redraws what is known); nothing reloads the page.

import { alignedColumns, timeline } from "/ui/timeline.js";
import { $, firstLine, h, shortSha, statusMark, toast, when } from "/ui/dom.js";
import { conditionBlock, conditionNotes, conditionsOf, retryBadge } from "/ui/conditions.js";
import { followLog, logView } from "/ui/logs.js";
import { allAlarms, allPipelines, askCredentials, call, CLOUDWATCH, getJson, savedCredentials, signedGet } from "/ui/aws.js";

const ALARM_STATES = ["OK", "ALARM"];  // what a user flips an alarm to here (the CLI also sets INSUFFICIENT_DATA)
const HISTORY_SIZE = 25;

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

// "rollback → 1a2b3c4" beside an execution of type ROLLBACK (its target's short id), else nothing.
function rollbackBadge(executionId) {
  const target = model.revisions.get(executionId)?.rollbackTarget;
  if (target === null || target === undefined) return null;
  return h("span", { class: "badge rollback", title: target ? `rolled back to execution ${target}` : "rollback" },
    "rollback", target ? ` → ${shortSha(target)}` : "");
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
  $("simulated").hidden = !model.health.simulated;  // nobody should take a simulated run for a real one
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
