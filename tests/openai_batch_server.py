"""A loopback OpenAI server with the Files and Batches endpoints the `openai` client uses,
for tests of `--judge-mode batch`; it answers live chat completions too (the candidate).

Endpoints: POST /v1/chat/completions; POST /v1/files (multipart upload), GET /v1/files
(listed newest first, paged with `after`), GET /v1/files/{id}/content; POST /v1/batches,
GET /v1/batches (newest first, paged), GET /v1/batches/{id}. A batch moves on when it is
polled: validating, then in_progress for `polls` polls, then it ends as scripted:
`outcome` "completed", "expired" (only the first `expire_after` requests answered, the
rest in the error file as batch_expired) or "failed" (validation errors, no files);
`fail(body)` puts a request's line in the error file (a 500) while the rest succeed.
Replies come from `reply(body)`, as on the live server (openai_server.py).

Scripted pauses for kill tests: `trap(point)` makes the handler stop at `point` and wait
until `release()`, after signalling `reached[point]`; points: "upload" (after the file is
stored, before the answer), "create" (before the batch exists), "created" (after it
exists, before the answer), "download" (half the content sent); a trapped request is never
answered. `hold = True` keeps every batch in_progress.
"""

from __future__ import annotations

import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

from openai_server import Serving, completion_body


class BatchServer(Serving):
    def __init__(self, reply: Callable[[dict[str, Any]], str]) -> None:
        self.reply = reply
        self.polls = 1
        self.outcome = "completed"
        self.expire_after = 0
        self.fail: Callable[[dict[str, Any]], bool] = lambda body: False
        self.hold = False
        self.files: dict[str, dict[str, Any]] = {}  # id -> {"meta": FileObject, "data": bytes}
        self.batches: dict[str, dict[str, Any]] = {}
        self.uploads = 0
        self.created = 0
        self.chat_requests: list[dict[str, Any]] = []
        self.batch_polls = 0
        self.traps: set[str] = set()
        self.reached: dict[str, threading.Event] = {}
        self._released = threading.Event()
        self._lock = threading.RLock()
        self._n = 0
        self._bind()

    def __exit__(self, *exc: object) -> None:
        self.release()
        super().__exit__(*exc)

    def trap(self, point: str) -> threading.Event:
        self.traps = {point}
        self._released = threading.Event()
        self.reached[point] = threading.Event()
        return self.reached[point]

    def release(self) -> None:
        self.traps = set()
        self._released.set()

    def _pause(self, point: str) -> None:
        """At a trapped point: signal, wait, then drop the request unanswered (its client is
        killed meanwhile; what the server did before the point stays done)."""
        if point in self.traps:
            self.reached[point].set()
            self._released.wait(60)
            raise ConnectionAbortedError(f"trapped at {point}")

    def _id(self, prefix: str) -> str:
        with self._lock:
            self._n += 1
            return f"{prefix}-{self._n:04d}"

    def batch_requests(self) -> list[dict[str, Any]]:
        """Every input line of every batch created, in order."""
        return [line for b in self.batches.values() for line in self._lines(b["input_file_id"])]

    def _lines(self, file_id: str) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.files[file_id]["data"].decode().splitlines() if x.strip()]

    def _store_file(self, name: str, data: bytes, purpose: str) -> dict[str, Any]:
        fid = self._id("file")
        meta = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()), "filename": name,
                "purpose": purpose, "status": "processed"}
        self.files[fid] = {"meta": meta, "data": data}
        return meta

    def _advance(self, b: dict[str, Any]) -> None:
        """One poll's worth of progress; the end as scripted."""
        self.batch_polls += 1
        if b["status"] in ("completed", "expired", "failed") or self.hold:
            if self.hold and b["status"] == "validating":
                b["status"] = "in_progress"
            return
        b["_polls"] += 1
        if b["_polls"] <= self.polls:
            b["status"] = "in_progress"
            b["request_counts"]["completed"] = min(b["request_counts"]["total"], b["_polls"] - 1)
            return
        lines = self._lines(b["input_file_id"])
        if self.outcome == "failed":
            b.update(status="failed", errors={"object": "list", "data": [
                {"code": "invalid_request", "message": "scripted validation failure", "line": 1}]})
            return
        ok, errors = [], []
        for i, line in enumerate(lines):
            if self.outcome == "expired" and i >= self.expire_after:
                errors.append({"id": f"req-{i}", "custom_id": line["custom_id"], "response": None, "error": {
                    "code": "batch_expired", "message": "This request could not be executed before the completion "
                                                        "window expired."}})
            elif self.fail(line["body"]):
                errors.append({"id": f"req-{i}", "custom_id": line["custom_id"], "error": None, "response": {
                    "status_code": 500, "request_id": f"r{i}", "body": {"error": {
                        "message": "scripted server error", "type": "server_error"}}}})
            else:
                ok.append({"id": f"req-{i}", "custom_id": line["custom_id"], "error": None, "response": {
                    "status_code": 200, "request_id": f"r{i}",
                    "body": completion_body(line["body"], self.reply(line["body"]))}})
        for kind, rows in (("output_file_id", ok), ("error_file_id", errors)):
            if rows:
                data = "".join(json.dumps(r) + "\n" for r in rows).encode()
                b[kind] = self._store_file(f"{b['id']}-{kind}.jsonl", data, "batch_output")["id"]
        b["status"] = "expired" if self.outcome == "expired" else "completed"
        b["request_counts"] = {"total": len(lines), "completed": len(ok), "failed": len(errors)}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                path = urlparse(self.path).path
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if path.endswith("/chat/completions"):
                    body = json.loads(raw)
                    with server._lock:
                        server.chat_requests.append(body)
                    self._json(completion_body(body, server.reply(body)))
                elif path.endswith("/files"):
                    msg = BytesParser(policy=HTTP).parsebytes(
                        b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + raw)
                    parts = {p.get_param("name", header="content-disposition"): p for p in msg.iter_parts()}
                    f = parts["file"]
                    meta = server._store_file(f.get_filename(), f.get_payload(decode=True),
                                              parts["purpose"].get_payload(decode=True).decode())
                    server.uploads += 1
                    server._pause("upload")
                    self._json(meta)
                elif path.endswith("/batches"):
                    body = json.loads(raw)
                    server._pause("create")
                    bid = server._id("batch")
                    n = len(server._lines(body["input_file_id"]))
                    server.batches[bid] = {
                        "id": bid, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                        "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                        "status": "validating", "output_file_id": None, "error_file_id": None,
                        "created_at": int(time.time()), "metadata": body.get("metadata"),
                        "request_counts": {"total": n, "completed": 0, "failed": 0}, "_polls": 0}
                    server.created += 1
                    server._pause("created")
                    self._json(server.batches[bid])
                else:
                    self._json({"error": {"message": f"no route {path}"}}, 404)

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                parts = url.path.rstrip("/").split("/")
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if parts[-1] == "content":
                    data = server.files[parts[-2]]["data"]
                    if "download" in server.traps:  # half the body, then nothing
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        server._pause("download")
                        return
                    self._send(200, data, "application/octet-stream")
                elif parts[-1] == "files":
                    rows = [f["meta"] for f in server.files.values()
                            if query.get("purpose") in (None, f["meta"]["purpose"])]
                    self._json(_page(rows, query))
                elif parts[-1] == "batches":
                    self._json(_page([_public(b) for b in server.batches.values()], query))
                elif parts[-2] == "batches":
                    with server._lock:
                        b = server.batches[parts[-1]]
                        server._advance(b)
                        self._json(_public(b))
                else:
                    self._json({"error": {"message": f"no route {url.path}"}}, 404)

            def _json(self, obj: Any, status: int = 200) -> None:
                self._send(status, json.dumps(obj).encode(), "application/json")

            def _send(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _public(b: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in b.items() if not k.startswith("_")}


def _page(rows: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    """Newest first, `limit` (default 20) after the id `after`, as the API pages lists."""
    rows = rows[::-1]
    if "after" in query:
        rows = rows[[r["id"] for r in rows].index(query["after"]) + 1:]
    limit = int(query.get("limit", 20))
    return {"object": "list", "data": rows[:limit], "has_more": len(rows) > limit,
            "first_id": rows[0]["id"] if rows else None, "last_id": rows[:limit][-1]["id"] if rows else None}
