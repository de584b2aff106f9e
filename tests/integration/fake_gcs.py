"""A local stand-in for Cloud Storage's JSON API and the GKE metadata server, for Triton's
native ``gs://`` model repository.

Triton's GCS file system (triton-inference-server/core src/filesystem/implementations/gcs.h,
google-cloud-cpp's storage client) takes its credentials from a key file, else from the metadata
server (``CreateComputeEngineCredentials``: on GKE with Workload Identity, the GKE metadata
server), and talks to ``CLOUD_STORAGE_EMULATOR_ENDPOINT`` when that is set (google-cloud-cpp's
emulator switch) and to ``GCE_METADATA_ROOT`` for the metadata server. This server answers both on
127.0.0.1: the metadata server with a token for the pod's Google service account, and the calls
Triton makes (bucket metadata, object metadata, listing by prefix, media download) from a local
directory standing in for the bucket. It records every request so a test can say which were made.

JSON API shapes: https://cloud.google.com/storage/docs/json_api/v1/objects (list, get) and
/buckets/get; metadata server: https://cloud.google.com/compute/docs/metadata/querying-metadata.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.integration.harness import LOCALHOST

TOKEN = "fake-workload-identity-token"
EMAIL = "serving@example.iam.gserviceaccount.com"  # the pod's Google service account
# /storage/v1/b/<bucket>[/o[/<object>]], and the same under /download for media.
_GCS_PATH = re.compile(r"^(?:/download)?/storage/v1/b/(?P<bucket>[^/]+)(?P<objects>/o(?:/(?P<object>.+))?)?/?$")
# The XML API's download, which google-cloud-cpp uses for media: /<bucket>/<object>.
_XML_PATH = re.compile(r"^/(?P<bucket>[^/]+)/(?P<object>.+)$")
UPDATED = "2025-01-01T00:00:00.000Z"


@dataclass
class Bucket:
    name: str
    root: Path  # the bucket's objects are the files under root, named by their relative path
    # (path, Metadata-Flavor header, Authorization header) of every request
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def names(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())

    def metadata(self, name: str) -> dict:
        data = (self.root / name).read_bytes()
        return {
            "kind": "storage#object",
            "id": f"{self.name}/{name}/1",
            "name": name,
            "bucket": self.name,
            "generation": "1",
            "metageneration": "1",
            "size": str(len(data)),
            "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),
            "updated": UPDATED,
            "timeCreated": UPDATED,
            "storageClass": "STANDARD",
        }


def _handler(bucket: Bucket) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json", headers=None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, doc: dict) -> None:
            self._send(status, json.dumps(doc).encode())

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            bucket.requests.append(
                (url.path, self.headers.get("Metadata-Flavor", ""), self.headers.get("Authorization", ""))
            )
            if url.path.startswith("/computeMetadata/v1/"):
                return self._metadata(url.path)
            if (x := _XML_PATH.match(url.path)) and x["bucket"] == bucket.name and not url.path.startswith("/storage/"):
                return self._object(urllib.parse.unquote(x["object"]), True)
            m = _GCS_PATH.match(url.path)
            if not m or m["bucket"] != bucket.name:
                return self._json(404, {"error": {"code": 404, "message": f"not served here: {url.path}"}})
            if m["objects"] is None:
                return self._json(200, {"kind": "storage#bucket", "name": bucket.name, "id": bucket.name})
            if not m["object"]:
                return self._list(query)
            self._object(urllib.parse.unquote(m["object"]), query.get("alt") == ["media"])

        def _metadata(self, path: str) -> None:
            if self.headers.get("Metadata-Flavor") != "Google":
                return self._send(403, b"Missing Metadata-Flavor:Google header.", "text/plain")
            account = "/computeMetadata/v1/instance/service-accounts/default"
            if path.rstrip("/") == account:
                return self._json(
                    200,
                    {
                        "aliases": ["default"],
                        "email": EMAIL,
                        "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                    },
                )
            if path.startswith("/computeMetadata/v1/instance/service-accounts/") and path.endswith("/token"):
                return self._json(200, {"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"})
            self._send(404, b"not found", "text/plain")

        def _list(self, query: dict) -> None:
            prefix = query.get("prefix", [""])[0]
            items = [bucket.metadata(n) for n in bucket.names() if n.startswith(prefix)]
            self._json(200, {"kind": "storage#objects", "items": items})

        def _object(self, name: str, media: bool) -> None:
            if not (bucket.root / name).is_file():
                return self._json(404, {"error": {"code": 404, "message": f"No such object: {bucket.name}/{name}"}})
            if media:
                data = (bucket.root / name).read_bytes()
                return self._send(200, data, "application/octet-stream", {"x-goog-generation": "1"})
            self._json(200, bucket.metadata(name))

    return Handler


@contextlib.contextmanager
def serving(bucket: Bucket) -> Iterator[str]:
    """Serve ``bucket`` and the metadata server on a free port; yields ``127.0.0.1:<port>``."""
    server = ThreadingHTTPServer((LOCALHOST, 0), _handler(bucket))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{LOCALHOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
