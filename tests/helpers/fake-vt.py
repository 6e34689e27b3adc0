#!/usr/bin/env python3
"""A fake VirusTotal (API v3) on loopback, for the tests of picosnitch's
VirusTotal client.  python3 fake-vt.py DIR: serves on 127.0.0.1 (a free
port, written to DIR/port), reads DIR/plan.json at every request (so a
test can change it), and appends one JSON line per request to
DIR/requests.log: time, method, path, whether the API key was right, and
for uploads the uploaded file's SHA-256, size and name.

plan.json:
  "key":    the API key it accepts (anything else: 401 WrongCredentialsError)
  "files":  {sha256: ANSWER or [ANSWER, ...]}: a list is used in order, one
            per request, its last entry for ever after; a hash not listed
            is not known (404 NotFoundError) until it is uploaded
  ANSWER:   {"stats": {...}, "date": N}  a file report
            "empty"      a file report without an analysis yet
            "notfound"   404
            "401" "429" "500" "503"  that status with VirusTotal's error body
            "timeout"    answers after "slow" seconds (default 3)
            "garbage"    200 with a body that is not JSON
            "huge"       200 with a 5 MiB body
            "close"      closes the connection without answering
  "after_upload": {"stats": ..., "date": N}  the analysis of an uploaded
            file, reported "queued" for the first "queued_polls" polls
            (default 1), then "completed"
  "upload_url_prefix": what GET /api/v3/files/upload_url points to
            (default this server's /upload-big)
"""
import hashlib
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1]
LOCK = threading.Lock()
COUNTS = {}  # sha256 -> requests answered
ANALYSES = {}  # id -> [sha256, polls]


def plan():
    try:
        with open(os.path.join(DIR, "plan.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def log(entry):
    entry["time"] = time.time()
    with LOCK, open(os.path.join(DIR, "requests.log"), "a") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")


def error_body(code, message):
    return json.dumps({"error": {"code": code, "message": message}}).encode()


STATUS_CODES = {"401": (401, "WrongCredentialsError"), "429": (429, "QuotaExceededError"),
                "500": (500, "InternalError"), "503": (503, "TransientError"),
                "notfound": (404, "NotFoundError")}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer(self, p, a, sha):
        """Send ANSWER a (see above)."""
        if isinstance(a, dict):
            attrs = {"last_analysis_stats": a.get("stats", {}), "sha256": sha}
            if "date" in a:
                attrs["last_analysis_date"] = a["date"]
            self.send(200, json.dumps({"data": {"type": "file", "id": sha,
                                                "attributes": attrs}}).encode())
        elif a == "empty":
            self.send(200, json.dumps({"data": {"type": "file", "id": sha, "attributes": {
                "last_analysis_stats": {"malicious": 0, "suspicious": 0, "harmless": 0,
                                        "undetected": 0}}}}).encode())
        elif a in STATUS_CODES:
            status, code = STATUS_CODES[a]
            self.send(status, error_body(code, "fake " + a))
        elif a == "timeout":
            time.sleep(p.get("slow", 3))
            self.send(200, b"{}")
        elif a == "garbage":
            self.send(200, b"<html>not json</html>", "text/html")
        elif a == "huge":
            self.send(200, b'{"data": "' + b"x" * (5 << 20) + b'"}')
        elif a == "close":
            self.close_connection = True
            self.connection.shutdown(2)
        else:
            self.send(500, error_body("FakeError", "the plan has no answer " + str(a)))

    def key_ok(self, p, entry):
        entry["key_ok"] = self.headers.get("x-apikey") == p.get("key")
        if not entry["key_ok"]:
            self.send(401, error_body("WrongCredentialsError", "Wrong API key"))
        return entry["key_ok"]

    def do_GET(self):
        p = plan()
        entry = {"method": "GET", "path": self.path}
        if not self.key_ok(p, entry):
            log(entry)
            return
        log(entry)
        if self.path == "/api/v3/files/upload_url":
            port = self.server.server_address[1]
            url = p.get("upload_url_prefix", "http://127.0.0.1:%d" % port) + "/upload-big"
            self.send(200, json.dumps({"data": url}).encode())
        elif self.path.startswith("/api/v3/files/"):
            sha = self.path[len("/api/v3/files/"):]
            with LOCK:
                n = COUNTS.get(sha, 0)
                COUNTS[sha] = n + 1
                uploaded = any(s == sha for s, _ in ANALYSES.values())
            a = p.get("files", {}).get(sha, "notfound")
            if isinstance(a, list):
                a = a[min(n, len(a) - 1)]
            if a == "notfound" and uploaded:
                a = p.get("after_upload", "empty")
            self.answer(p, a, sha)
        elif self.path.startswith("/api/v3/analyses/"):
            aid = urllib.parse.unquote(self.path[len("/api/v3/analyses/"):])
            with LOCK:
                known = ANALYSES.get(aid)
                if known:
                    known[1] += 1
            if not known:
                self.send(404, error_body("NotFoundError", "no such analysis"))
                return
            after = p.get("after_upload", {"stats": {}})
            if known[1] <= p.get("queued_polls", 1):
                attrs = {"status": "queued", "stats": {}}
            else:
                attrs = {"status": "completed", "stats": after.get("stats", {})}
                if "date" in after:
                    attrs["date"] = after["date"]
            self.send(200, json.dumps({"data": {"type": "analysis", "id": aid,
                                                "attributes": attrs}}).encode())
        else:
            self.send(404, error_body("NotFoundError", "no such path"))

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0"))
        if n:
            return self.rfile.read(n)
        # chunked
        out = b""
        while True:
            size = int(self.rfile.readline().strip(), 16)
            if size == 0:
                self.rfile.readline()
                return out
            out += self.rfile.read(size)
            self.rfile.readline()

    def do_POST(self):
        p = plan()
        entry = {"method": "POST", "path": self.path}
        body = self.read_body()
        if not self.key_ok(p, entry):
            log(entry)
            return
        # multipart/form-data: the part named "file"
        ctype = self.headers.get("Content-Type", "")
        boundary = ctype.split("boundary=")[-1].encode()
        data, name = None, None
        for part in body.split(b"--" + boundary):
            head, _, rest = part.partition(b"\r\n\r\n")
            if b'name="file"' in head:
                data = rest[:-2]  # the CRLF before the next boundary
                disposition = [h for h in head.split(b"\r\n")
                               if h.lower().startswith(b"content-disposition")][0]
                for field in disposition.split(b";"):
                    field = field.strip()
                    if field.startswith(b"filename="):
                        name = field[len(b"filename="):].strip(b'"').decode()
        if data is None:
            log(entry)
            self.send(400, error_body("BadRequestError", "no file"))
            return
        sha = hashlib.sha256(data).hexdigest()
        entry.update({"sha256": sha, "size": len(data), "filename": name})
        log(entry)
        aid = "an-" + sha[:16] + "=="
        with LOCK:
            ANALYSES[aid] = [sha, 0]
        self.send(200, json.dumps({"data": {"type": "analysis", "id": aid}}).encode())


class Server(ThreadingHTTPServer):
    def server_bind(self):
        # HTTPServer's own looks its name up in DNS (slow with no network)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


server = Server(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
server.serve_forever()
