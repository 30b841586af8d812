// The in-container Node.js Lambda runtime shim, in one of two modes (see bootstrap.py, its twin).
//
// Once (`node /var/runtime/bootstrap.js`, in /var/task): reads /var/runtime/invocation.json
// ({handler, event, context}), calls the handler, writes /var/runtime/result.json and exits 0.
// Warm (`node /var/runtime/bootstrap.js --serve PORT`): an HTTP server running one invocation at a
// time, the handler loaded once; `POST /invoke` (event as body, X-Pipemu-Context, X-Pipemu-Token),
// `GET /ready`. An exception thrown outside the handler's promise fails the invocation and ends
// the process: Lambda resets the execution environment after such a crash.
//
// The handler is `file.export` where file may be a .js, .cjs or .mjs module (a path below
// /var/task); async and callback-style (event, context, callback) handlers both work. The result
// is {"ok": true, "result": ...} or {"ok": false, errorType, errorMessage, stackTrace}, with
// START/END/REPORT lines printed as Lambda prints them.
"use strict";

const fs = require("fs");
const path = require("path");
const { pathToFileURL } = require("url");

const RUNTIME_DIR = process.env.LAMBDA_RUNTIME_DIR || "/var/runtime";
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || "/var/task";
const RESULT = path.join(RUNTIME_DIR, "result.json");

// The v2 SDK (`require('aws-sdk')`, bundled with the old runtimes) ignores AWS_ENDPOINT_URL:
// point it at the daemon the first time a function loads it, so old code runs unchanged.
const Module = require("module");
const loadModule = Module._load;
Module._load = function (request, parent, isMain) {
  const exported = loadModule.apply(this, arguments);
  if (request === "aws-sdk" && exported && exported.config && !exported.__pipemuEndpoint) {
    const endpoint = process.env.AWS_ENDPOINT_URL_CODEPIPELINE || process.env.AWS_ENDPOINT_URL;
    if (endpoint) {
      exported.config.update({ endpoint, region: process.env.AWS_REGION || "us-east-1" });
    }
    exported.__pipemuEndpoint = true;
  }
  return exported;
};

function makeContext(ctx, finish) {
  const deadline = Number(ctx.deadline_ms) || Date.now() + 3000;
  return {
    functionName: ctx.function_name || "",
    functionVersion: ctx.function_version || "$LATEST",
    invokedFunctionArn: ctx.invoked_function_arn || "",
    memoryLimitInMB: String(ctx.memory_limit_in_mb || "128"),
    awsRequestId: ctx.aws_request_id || "",
    logGroupName: ctx.log_group_name || "",
    logStreamName: ctx.log_stream_name || "",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    // Legacy helpers some handlers still call.
    succeed: (value) => finish(null, value),
    fail: (err) => finish(err || new Error("context.fail called")),
    done: (err, value) => finish(err, value),
  };
}

function errorPayload(err, type) {
  if (!(err instanceof Error)) {
    const message = typeof err === "string" ? err : JSON.stringify(err);
    return { ok: false, errorType: type || "Error", errorMessage: message, stackTrace: [] };
  }
  const stack = String(err.stack || "").split("\n").slice(1)
    .map((l) => l.trim()).filter((l) => l && !l.includes("bootstrap.js"));
  return { ok: false, errorType: type || err.name || "Error",
           errorMessage: err.message, stackTrace: stack };
}

function resolveFile(name) {
  const base = path.resolve(TASK_ROOT, name);
  for (const ext of [".js", ".mjs", ".cjs", ""]) {
    if (fs.existsSync(base + ext) && fs.statSync(base + ext).isFile()) return base + ext;
  }
  return null;
}

async function loadHandler(spec) {
  const dot = spec.lastIndexOf(".");
  if (dot <= 0 || dot === spec.length - 1) {
    const e = new Error(`Bad handler ${spec}: expected file.export`);
    e.lambdaType = "Runtime.MalformedHandlerName";
    throw e;
  }
  const file = resolveFile(spec.slice(0, dot));
  const exportPath = spec.slice(dot + 1);
  if (!file) {
    const e = new Error(`Cannot find module '${spec.slice(0, dot)}'`);
    e.lambdaType = "Runtime.ImportModuleError";
    throw e;
  }
  let mod;
  try {
    mod = file.endsWith(".mjs") ? await import(pathToFileURL(file).href) : require(file);
  } catch (err) {
    if (err && err.code === "ERR_REQUIRE_ESM") {
      mod = await import(pathToFileURL(file).href);
    } else {
      err.lambdaType = "Runtime.UserCodeSyntaxError";
      if (!(err instanceof SyntaxError)) err.lambdaType = "Runtime.ImportModuleError";
      throw err;
    }
  }
  let fn = mod && mod[exportPath];
  if (fn === undefined && mod && mod.default) fn = mod.default[exportPath];
  if (typeof fn !== "function") {
    const e = new Error(`${spec} is undefined or not exported`);
    e.lambdaType = "Runtime.HandlerNotFound";
    throw e;
  }
  return fn;
}

function writeResult(payload) {
  const tmp = RESULT + ".tmp";
  fs.writeFileSync(tmp, JSON.stringify(payload));
  fs.renameSync(tmp, RESULT);
}

const handlers = new Map();

async function run(spec, event, ctx) {
  ctx = ctx || {};
  const requestId = ctx.aws_request_id || "";
  console.log(`START RequestId: ${requestId} Version: ${ctx.function_version || "$LATEST"}`);
  const started = Date.now();
  let settled = false;
  let settle;
  const outcome = new Promise((resolve) => { settle = resolve; });
  const finish = (err, value) => {
    if (settled) return;
    settled = true;
    settle(err !== null && err !== undefined ? errorPayload(err) : { ok: true, result: value });
  };
  const context = makeContext(ctx, finish);
  try {
    if (!handlers.has(spec)) handlers.set(spec, await loadHandler(spec)); // init once
    const handler = handlers.get(spec);
    const ret = handler.length >= 3 ? handler(event, context, finish) : handler(event, context);
    if (ret && typeof ret.then === "function") {
      ret.then((value) => finish(null, value), (err) => finish(err || new Error("rejected")));
    } else if (handler.length < 3) {
      finish(null, ret);
    }
  } catch (err) {
    if (!settled) {
      settled = true;
      settle(errorPayload(err, err && err.lambdaType));
    }
  }
  let payload = await outcome;
  if (payload.ok) {
    try {
      payload = { ok: true, result: payload.result === undefined ? null
        : JSON.parse(JSON.stringify(payload.result)) };
    } catch (err) {
      payload = { ok: false, errorType: "Runtime.MarshalError",
                  errorMessage: `Unable to stringify response body: ${err.message}`, stackTrace: [] };
    }
  } else {
    console.error(JSON.stringify({ errorType: payload.errorType, errorMessage: payload.errorMessage,
                                   stackTrace: payload.stackTrace, requestId }));
  }
  const elapsed = Date.now() - started;
  const usedMb = Math.round(process.memoryUsage().rss / 1048576);
  console.log(`END RequestId: ${requestId}`);
  console.log(`REPORT RequestId: ${requestId}\tDuration: ${elapsed.toFixed(2)} ms\t` +
              `Billed Duration: ${elapsed + 1} ms\tMemory Size: ${context.memoryLimitInMB} MB\t` +
              `Max Memory Used: ${usedMb} MB`);
  return payload;
}

async function main() {
  const invocation = JSON.parse(fs.readFileSync(path.join(RUNTIME_DIR, "invocation.json"), "utf8"));
  writeResult(await run(String(invocation.handler || ""), invocation.event, invocation.context));
  // Like Lambda with callbackWaitsForEmptyEventLoop=false: do not wait for stray timers/sockets.
  process.stdout.write("", () => process.exit(0));
}

function serve(port) {
  const token = process.env.PIPEMU_INVOKE_TOKEN || "";
  delete process.env.PIPEMU_INVOKE_TOKEN;
  const spec = String(process.env._HANDLER || "");
  const http = require("http");
  const answer = (res, status, payload) => {
    const body = JSON.stringify(payload);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  };
  const server = http.createServer((req, res) => {
    if (req.method === "GET") return answer(res, req.url === "/ready" ? 200 : 404, {});
    if (req.url !== "/invoke" || req.headers["x-pipemu-token"] !== token) return answer(res, 403, {});
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const ctx = JSON.parse(req.headers["x-pipemu-context"] || "{}");
      crashAnswer = (payload) => answer(res, 200, payload);
      answer(res, 200, await run(spec, raw.trim() ? JSON.parse(raw) : {}, ctx));
      crashAnswer = null;
    });
  });
  // Init before the environment says it is ready, as Lambda's init phase; a failed init is tried
  // again (and reported) by the invocation.
  loadHandler(spec).then((fn) => handlers.set(spec, fn), () => {})
    .finally(() => server.listen(port, "0.0.0.0"));
}

let crashAnswer = null; // in warm mode: how to answer the invocation a crash interrupts

process.on("uncaughtException", (err) => {
  // An error thrown asynchronously by the handler (outside its promise): Lambda reports it as
  // the invocation's error.
  try {
    if (crashAnswer) {  // warm: answer, then end the execution environment
      console.error(JSON.stringify(errorPayload(err)));
      crashAnswer(errorPayload(err));
      return setTimeout(() => process.exit(1), 50);
    }
    writeResult(errorPayload(err));
    console.error(JSON.stringify(errorPayload(err)));
    process.exit(0);
  } catch (e) {
    process.exit(2);
  }
});

if (process.argv[2] === "--serve") {
  serve(Number(process.argv[3]));
} else main().catch((err) => {
  console.error(`bootstrap crashed: ${err && err.stack ? err.stack : err}`);
  process.exit(2);
});
