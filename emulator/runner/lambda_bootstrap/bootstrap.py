"""The in-container Python Lambda runtime shim, in one of two modes. Standard library only.

Once (`python3 /var/runtime/bootstrap.py`, in /var/task): reads /var/runtime/invocation.json
({"handler", "event", "context"}), calls the handler, writes /var/runtime/result.json and exits
(0 in both outcomes; only a crash of the shim, or a handler calling sys.exit, exits otherwise).
Pipeline actions run this way: a restarted daemon re-attaches to the container by its name.

Warm (`... bootstrap.py --serve PORT`): an HTTP server that runs one invocation at a time, as a
Lambda execution environment does: the handler is loaded once (its module's init runs once), /tmp
and module state stay between invocations. `POST /invoke` with the event as body, the context as
the X-Pipemu-Context header (JSON) and the token the daemon gave in PIPEMU_INVOKE_TOKEN as
X-Pipemu-Token; `GET /ready` answers once the server listens.

Either way the result is {"ok": true, "result": ...} or {"ok": false, "errorType",
"errorMessage", "stackTrace"}, with START/END/REPORT lines printed as Lambda prints them.
"""

import http.server
import importlib
import json
import os
import sys
import time
import traceback

RUNTIME_DIR = os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime")
TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
INVOCATION = os.path.join(RUNTIME_DIR, "invocation.json")
RESULT = os.path.join(RUNTIME_DIR, "result.json")


class LambdaContext:
    """The attributes and method of the context object AWS passes to Python handlers."""

    def __init__(self, ctx):
        self.function_name = ctx.get("function_name", "")
        self.function_version = ctx.get("function_version", "$LATEST")
        self.invoked_function_arn = ctx.get("invoked_function_arn", "")
        self.memory_limit_in_mb = str(ctx.get("memory_limit_in_mb", "128"))
        self.aws_request_id = ctx.get("aws_request_id", "")
        self.log_group_name = ctx.get("log_group_name", "")
        self.log_stream_name = ctx.get("log_stream_name", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = int(ctx.get("deadline_ms") or (time.time() * 1000 + 3000))

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self):
        return (f"LambdaContext([aws_request_id={self.aws_request_id},"
                f"function_name={self.function_name},function_version={self.function_version}])")


def _load_handler(spec):
    module_name, _, func_name = spec.rpartition(".")
    if not module_name or not func_name:
        raise ValueError(f"Bad handler '{spec}': expected module.function")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        err = ImportError(f"Unable to import module '{module_name}': {exc}")
        err.lambda_type = "Runtime.ImportModuleError"
        raise err from None
    try:
        return getattr(module, func_name)
    except AttributeError:
        err = AttributeError(f"Handler '{func_name}' missing on module '{module_name}'")
        err.lambda_type = "Runtime.HandlerNotFound"
        raise err from None


def _error(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    stack = [f'  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line or ""}\n'
             for f in frames if not f.filename.endswith("bootstrap.py")]
    return {"ok": False, "errorType": getattr(exc, "lambda_type", type(exc).__name__),
            "errorMessage": str(exc), "stackTrace": stack}


def _write(payload):
    tmp = RESULT + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh)
    os.replace(tmp, RESULT)


_HANDLERS = {}


def run(spec, event, ctx):
    """One invocation: START, the handler, END and REPORT lines; the result payload."""
    context = LambdaContext(ctx or {})
    if TASK_ROOT not in sys.path:
        sys.path.insert(0, TASK_ROOT)
    request_id = context.aws_request_id
    print(f"START RequestId: {request_id} Version: {context.function_version}", flush=True)
    started = time.monotonic()
    try:
        if spec not in _HANDLERS:  # init once per execution environment
            _HANDLERS[spec] = _load_handler(spec)
        result = _HANDLERS[spec](event, context)
        try:
            payload = {"ok": True, "result": json.loads(json.dumps(result))}
        except (TypeError, ValueError) as exc:
            payload = {"ok": False, "errorType": "Runtime.MarshalError",
                       "errorMessage": f"Unable to marshal response: {exc}", "stackTrace": []}
    except Exception as exc:  # the handler's own failure: a Lambda error result, not a crash
        payload = _error(exc)
    if not payload["ok"]:
        line = {k: payload[k] for k in ("errorMessage", "errorType", "stackTrace")}
        line["requestId"] = request_id
        print(f"[ERROR] {payload['errorType']}: {payload['errorMessage']}", file=sys.stderr)
        print(json.dumps(line), file=sys.stderr, flush=True)
    sys.stdout.flush()
    elapsed = (time.monotonic() - started) * 1000
    try:
        import resource
        used_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    except Exception:
        used_mb = 0
    print(f"END RequestId: {request_id}", flush=True)
    print(f"REPORT RequestId: {request_id}\tDuration: {elapsed:.2f} ms\t"
          f"Billed Duration: {int(elapsed) + 1} ms\tMemory Size: {context.memory_limit_in_mb} MB\t"
          f"Max Memory Used: {used_mb} MB", flush=True)
    return payload


def main():
    with open(INVOCATION, encoding="utf-8") as fh:
        invocation = json.load(fh)
    _write(run(invocation.get("handler", ""), invocation.get("event"), invocation.get("context")))
    return 0


def serve(port):
    token = os.environ.pop("PIPEMU_INVOKE_TOKEN", "")
    spec = os.environ.get("_HANDLER", "")

    class Invocations(http.server.BaseHTTPRequestHandler):
        def _answer(self, status, payload):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self._answer(200 if self.path == "/ready" else 404, {})

        def do_POST(self):
            if self.path != "/invoke" or self.headers.get("X-Pipemu-Token") != token:
                return self._answer(403, {})
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            event = json.loads(raw) if raw.strip() else {}
            self._answer(200, run(spec, event, json.loads(self.headers.get("X-Pipemu-Context") or "{}")))

        def log_message(self, *args):  # the function's log holds the function's lines only
            pass

    # Init before the environment says it is ready, as Lambda's init phase: the first invocation's
    # time is the handler's own. A failed init is tried again (and reported) by the invocation.
    if TASK_ROOT not in sys.path:
        sys.path.insert(0, TASK_ROOT)
    try:
        _HANDLERS[spec] = _load_handler(spec)
    except Exception:
        pass
    http.server.HTTPServer(("0.0.0.0", port), Invocations).serve_forever()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    sys.exit(main())
