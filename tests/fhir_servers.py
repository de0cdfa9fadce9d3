"""Real FHIR servers for the push tests, started on 127.0.0.1, and a fault injector to put in front.

- ``sekmet``: the sekmet-fhir package's FHIR R4 server (SQLite), with bearer-token auth.
- ``medplum``: the Medplum FHIR engine with an in-memory repository (tests/node/medplum-server.js): it
  assigns ids itself and supports identifier search, so it takes conditional updates. Like Medplum's
  server, it refuses a transaction of more than 50 updates, or of more than 8 entries when one of them
  is a conditional update that creates.
- ``FaultyFront``: a real HTTP server that answers some requests with a fault (500, 429 with Retry-After,
  a dropped connection, a 401 that echoes the request's headers, an answer lost after the server behind it
  applied the request) and forwards the others to the server behind it; over TLS with ``tls``.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

TOKEN = "tok-3f9a1c77e2d84b05"
NODE = Path(__file__).resolve().parent / "node"


def node_tools() -> Path:
    """tests/node with its npm packages installed (from package-lock.json); without Node, see tool_missing."""
    import shutil

    from conftest import tool_missing

    if not shutil.which("node") or not shutil.which("npm"):
        tool_missing("Node.js and npm are needed (install nodejs and npm)")
    if not (NODE / "node_modules" / "fhir").exists() or not (NODE / "node_modules" / "@medplum").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE, check=True)
    return NODE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def sekmet(folder: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    (folder / "settings.yaml").write_text(
        f"base_url: {base}\nhost: 127.0.0.1\nport: {port}\ndata_dir: {folder / 'data'}\n"
        f"simulator: {{enabled: false}}\nserver_auth: {{types: [bearer], tokens: [{TOKEN}]}}\n"
        "validation: {inbound: strict}\nlog_inbound: false\n",
        encoding="utf-8",
    )
    sekmet_cli = Path(sys.executable).with_name("sekmet")
    log = open(folder / "server.log", "wb")  # noqa: SIM115  (closed below)
    process = subprocess.Popen(
        [str(sekmet_cli), "serve", "-c", str(folder / "settings.yaml"), "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(base, process, folder / "server.log")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@contextmanager
def medplum() -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    process = subprocess.Popen(
        ["node", "--experimental-websocket", str(node_tools() / "medplum-server.js"), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait(base: str, process: subprocess.Popen, log: Path | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{base}/metadata", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    detail = log.read_text(errors="replace")[-2000:] if log else (process.stdout.read() if process.stdout else b"")
    raise RuntimeError(f"the FHIR server at {base} did not start: {detail!r}")


def count(base: str, resource_type: str) -> int:
    response = httpx.get(
        f"{base}/{resource_type}",
        params={"_summary": "count"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    return response.json()["total"]


def stored(base: str, resource_type: str) -> list[dict]:
    """Every resource of ``resource_type`` on the server (one page holds them all, or this fails)."""
    found = httpx.get(
        f"{base}/{resource_type}", params={"_count": 1000}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ).json()
    resources = [e["resource"] for e in found.get("entry", []) if e.get("search", {}).get("mode", "match") == "match"]
    assert len(resources) == found["total"], f"{resource_type}: more than one page"
    return resources


def references(value: object) -> Iterator[str]:
    """Every ``reference`` inside a resource, however deep (extensions included)."""
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def dangling(base: str, types: tuple[str, ...]) -> list[str]:
    """References of the server's ResearchStudies and PractitionerRoles to nothing the server holds."""
    there = {f"{kind}/{r['id']}" for kind in types for r in stored(base, kind)}
    referring = stored(base, "ResearchStudy") + stored(base, "PractitionerRole")
    return sorted({ref for resource in referring for ref in references(resource) if ref not in there})


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (no client trusts it), and the key: PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class FaultyFront:
    """Answers POSTs number ``start + 1`` to ``start + faults`` with ``fault`` ("500", "429", "drop", "slow",
    "echo401": 401 with the request's headers in the body, "lost": forwarded, then, if the server behind
    applied it, the connection dropped before the answer), and forwards the others; or, with ``refuse``,
    answers 400 with an OperationOutcome to every transaction that holds that id, as a server does that
    rejects one resource. With ``only``, just the POSTs holding that text count (for "lost": just those the
    server behind applied). ``tls`` (certificate, key) serves https."""

    def __init__(
        self,
        behind: str,
        fault: str = "",
        faults: int = 0,
        refuse: str | None = None,
        start: int = 0,
        tls: tuple[Path, Path] | None = None,
        only: str | None = None,
    ) -> None:
        self.behind, self.fault, self.faults, self.refuse, self.start = behind, fault, faults, refuse, start
        self.only = only.encode() if only else None
        self.requests = 0
        self.bodies: list[bytes] = []  # every POST received, in order
        self.counted = 0  # the POSTs that count towards start and faults
        self.forwarded = 0
        self.lost = 0  # applied by the server behind, answer never delivered
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                front.requests += 1
                front.bodies.append(body)
                if front.refuse and front.refuse.encode() in body:
                    self.send_response(400)
                    self.send_header("Content-Type", "application/fhir+json")
                    self.end_headers()
                    self.wfile.write(
                        b'{"resourceType":"OperationOutcome","issue":[{"severity":"error",'
                        b'"code":"invalid","diagnostics":"ResearchStudy.phase: not allowed here"}]}'
                    )
                    return
                counts = front.only is None or front.only in body
                faulty = False  # "lost" is decided once the server behind has answered
                if counts and front.fault != "lost":
                    front.counted += 1
                    faulty = front.start < front.counted <= front.start + front.faults
                if faulty and front.fault == "echo401":
                    echoed = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
                    self.send_response(401)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(f"unauthorized; your request was:\n{echoed}".encode())
                    return
                if faulty:
                    if front.fault == "drop":
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if front.fault == "slow":
                        time.sleep(3)
                    status = 429 if front.fault == "429" else 500
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Type", "application/fhir+json")
                    self.end_headers()
                    self.wfile.write(
                        b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient"}]}'
                    )
                    return
                front.forwarded += 1
                answer = httpx.post(
                    front.behind,
                    content=body,
                    timeout=60,
                    headers={
                        "Content-Type": "application/fhir+json",
                        "Authorization": self.headers.get("Authorization", ""),
                    },
                )
                if counts and front.fault == "lost" and answer.status_code < 400:
                    front.counted += 1
                    if front.start < front.counted <= front.start + front.faults:
                        front.lost += 1  # the server behind applied it, the client never hears
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/fhir+json")
                self.end_headers()
                self.wfile.write(answer.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.server.handle_error = lambda request, address: None  # a client refusing the certificate: quiet
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/fhir"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
