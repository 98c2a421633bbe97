"""Run nginx (TLS, request buffering, limits: deploy/nginx-cds.conf) in front of gunicorn on this machine.

`make serve-tls` uses it; so does tests/test_proxy.py. The certificate is self-signed for 127.0.0.1 and
localhost (a browser or the public sandbox must be told to accept it); production uses a real one.

    python deploy/local_proxy.py [--port 8443] [--upstream-port 8080] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SITE = Path(__file__).resolve().parent / "nginx-cds.conf"
ROOT = Path(__file__).resolve().parent.parent


def nginx_missing() -> str | None:
    """Why nginx cannot be used here, or None."""
    return None if nginx_binary() else "nginx is not installed (Debian: apt-get install nginx-light or nginx)"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A P-256 certificate for localhost and 127.0.0.1, valid 30 days."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def render(prefix: Path, port: int, upstream_port: int) -> Path:
    """A complete nginx.conf around the shipped site configuration, everything under `prefix`."""
    cert, key = self_signed(prefix)
    site = SITE.read_text()
    for placeholder, value in {"@LISTEN@": f"127.0.0.1:{port}", "@SERVER_NAME@": "localhost",
                               "@CERT@": str(cert), "@KEY@": str(key),
                               "@UPSTREAM@": f"127.0.0.1:{upstream_port}"}.items():
        site = site.replace(placeholder, value)
    (prefix / "site.conf").write_text(site)
    temp = {name: prefix / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    # As root, nginx's workers would switch to `nobody`, who cannot write this private directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {temp['client_body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {prefix}/site.conf;
}}
""")
    return conf


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} stopped (exit {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds:g} s")


def start_nginx(prefix: Path, port: int, upstream_port: int) -> subprocess.Popen:
    conf = render(prefix, port, upstream_port)
    test = subprocess.run([nginx_binary(), "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True)
    if test.returncode != 0:
        raise RuntimeError("nginx refused the configuration:\n" + test.stderr)
    proc = subprocess.Popen([nginx_binary(), "-p", str(prefix), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc


def start_gunicorn(port: int, workers: int, env: dict | None = None, log=subprocess.DEVNULL) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
                             str(workers), "--no-control-socket", "cds_service:create_app()"],
                            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=log)
    wait_for_port(port, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--upstream-port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if nginx_missing():
        sys.exit(nginx_missing())
    prefix = Path(tempfile.mkdtemp(prefix="cds-nginx-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop both, as Ctrl-C does
    gunicorn = start_gunicorn(args.upstream_port, args.workers, log=None)
    try:
        nginx = start_nginx(prefix, args.port, args.upstream_port)
        print(f"https://127.0.0.1:{args.port}/cds-services (self-signed; nginx files in {prefix}); Ctrl-C stops",
              flush=True)
        try:
            while nginx.poll() is None and gunicorn.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            stop(nginx)
    finally:
        stop(gunicorn)
        shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    main()
