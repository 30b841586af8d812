"""service-a of the sample product "my": greets, with service-b's help.

GET /health   -> ok
GET /hello    -> {"service": "a", "version": ...}
GET /greeting -> asks service-b (http://service-b:8080/name in the same environment) for its name

Deployed as a function instead (function.yml), `handler` answers what /hello answers, with the
stage it was deployed to: invoked directly or through its function URL.
"""

import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = open(os.path.join(os.path.dirname(__file__), "VERSION")).read().strip()
SERVICE_B = os.environ.get("SERVICE_B_URL", "http://service-b:8080")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            return self.answer(200, {"status": "ok"})
        if self.path == "/hello":
            return self.answer(200, {"service": "a", "version": VERSION})
        if self.path == "/greeting":
            try:
                with urllib.request.urlopen(SERVICE_B + "/name", timeout=5) as reply:
                    b = json.loads(reply.read())
            except OSError as error:
                return self.answer(502, {"error": f"service-b did not answer: {error}"})
            return self.answer(200, {"greeting": f"Hello from service-a {VERSION} and {b['name']} {b['version']}"})
        return self.answer(404, {"error": "not found"})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def handler(event, context):
    """The Lambda entry point: /hello's answer and the stage (function.yml's STAGE)."""
    answer = {"service": "a", "version": VERSION, "stage": os.environ.get("STAGE", "")}
    if isinstance(event, dict) and "requestContext" in event:  # through the function URL
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(answer)}
    return answer


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
