"""The web dashboard: `GET /ui` (the page) and `GET /ui/{file}` (its script and style sheet),
static files from the `ui/` folder beside this module, with no build step and nothing from a CDN.

The page talks to the daemon like any other client: AWS's JSON API at `POST /` (signed with SigV4
in the browser when the daemon has credentials) and pipemu's read-only endpoints (`/pipemu/logs`,
`/pipemu/events`, `/health`). Serving it needs no signature: the files are the same for everyone
and carry no state. What keeps other sites from using a reader's browser against the daemon:
state changes only go through `POST /` with the custom `X-Amz-Target` header (which a cross-site
form cannot send, and a cross-site script cannot send without a CORS preflight the daemon never
grants) and the daemon refuses a foreign `Origin` (wire.py); the page refuses to be framed (no
clickjacking of the Approve button) and runs only its own script (Content-Security-Policy).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

FOLDER = Path(__file__).resolve().parent / "ui"
JS = "text/javascript; charset=utf-8"
FILES = {"index.html": "text/html; charset=utf-8", "app.css": "text/css; charset=utf-8",
         # the page's modules: app.js (state, routes) imports the others
         "app.js": JS, "aws.js": JS, "dom.js": JS, "logs.js": JS, "conditions.js": JS, "timeline.js": JS}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # a new daemon version serves its new page at once
}


def _file(name: str) -> Response:
    if name not in FILES:  # only the dashboard's own files: no path ever reaches the file system
        return JSONResponse({"__type": "NotFoundException", "message": f"No dashboard file '{name}'"}, 404)
    return FileResponse(FOLDER / name, media_type=FILES[name], headers=HEADERS)


async def page(request: Request) -> Response:
    return _file("index.html")


async def static(request: Request) -> Response:
    return _file(request.path_params["file"])


routes = [
    Route("/ui", page, methods=["GET"]),
    Route("/ui/{file}", static, methods=["GET"]),
]
