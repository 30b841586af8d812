// How the dashboard talks to the daemon: AWS's JSON APIs at POST / and pipemu's read-only GETs,
// SigV4-signed in the browser (Web Crypto) when the daemon has credentials, which are asked for
// when a request is refused for want of them and kept for the tab's life only.

import { $ } from "/ui/dom.js";

// The two JSON APIs the page calls: what each request carries, and the service it is signed for.
export const CODEPIPELINE = { target: "CodePipeline_20150709.", contentType: "application/x-amz-json-1.1", service: "codepipeline" };
export const CLOUDWATCH = { target: "GraniteServiceVersion20100801.", contentType: "application/x-amz-json-1.0", service: "monitoring" };
const AUTH_ERRORS = new Set(["MissingAuthenticationTokenException", "UnrecognizedClientException",
  "InvalidSignatureException", "IncompleteSignatureException"]);

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

export function savedCredentials() {
  try {
    return JSON.parse(sessionStorage.getItem(CREDENTIALS) || "null");
  } catch {
    return null;
  }
}

let asking = null;  // one dialog for every request that needs it

export function askCredentials(problem) {
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

export class ApiError extends Error {
  constructor(type, message) {
    super(`${type}: ${message}`);
    this.type = type;
  }
}

// AWS's JSON APIs (CodePipeline by default, or `api` CLOUDWATCH). Every state-changing request
// goes this way: POST / with the custom X-Amz-Target header, which a cross-site form cannot send
// (and the daemon refuses a foreign Origin): CloudWatch's alarms too, though the daemon also takes
// its query protocol's forms.
export async function call(operation, body = {}, api = CODEPIPELINE) {
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
export async function signedGet(path, options = {}) {
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

export async function getJson(path, options = {}) {
  const response = await signedGet(path, options);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(answer.__type || `HTTP ${response.status}`, answer.message || path);
  return answer;
}

export async function allPipelines() {
  const pipelines = [];
  let nextToken;
  do {
    const page = await call("ListPipelines", nextToken ? { nextToken } : {});
    pipelines.push(...page.pipelines);
    nextToken = page.nextToken;
  } while (nextToken);
  return pipelines.sort((a, b) => a.name.localeCompare(b.name));
}

export async function allAlarms() {
  const alarms = [];
  let NextToken;
  do {
    const page = await call("DescribeAlarms", NextToken ? { NextToken } : {}, CLOUDWATCH);
    alarms.push(...(page.MetricAlarms || []));
    NextToken = page.NextToken;
  } while (NextToken);
  return alarms;
}

