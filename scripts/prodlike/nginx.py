"""nginx for the local production-like run: the deployment's own config, a certificate, a process.

deploy/nginx/liveblog.conf.template is the file docker-compose.yml's proxy runs; here its
${PROXY_*} values are filled in for this machine (Debian's nginx, its own prefix, 127.0.0.1) and
a small nginx.conf around it keeps every path (pid, logs, temp files) inside the run's directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

from bench.common.servers import ROOT, Managed

TEMPLATE = ROOT / "deploy" / "nginx" / "liveblog.conf.template"
PLACEHOLDER = re.compile(r"\$\{(PROXY_[A-Z_]+)\}")
# Debian's nginx: nginx-light in CI (`.ci/run` installs it), nginx here.
MIME_TYPES = Path("/etc/nginx/mime.types")


def render(template: str, values: dict[str, str], upstreams: list[str]) -> str:
    """The template with each ${PROXY_*} filled in, as the nginx image's envsubst does, except
    that the line naming ${PROXY_UPSTREAM} is repeated once per address (compose has one name for
    every replica; here each worker has its own port). An unknown name is an error, not a blank.
    """
    lines = []
    for line in template.splitlines():
        copies = [line.replace("${PROXY_UPSTREAM}", address) for address in upstreams]
        lines.extend(copies if "${PROXY_UPSTREAM}" in line else [line])
    text = "\n".join(lines) + "\n"
    missing = sorted({name for name in PLACEHOLDER.findall(text) if name not in values})
    if missing:
        raise KeyError(f"no value for {', '.join(missing)} in {TEMPLATE.name}")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def main_config(directory: Path, site: Path) -> str:
    """nginx.conf: everything nginx would otherwise write under /var (logs, pid, temp files) is in
    `directory`, so the run needs no root and leaves nothing behind."""
    temp = {name: directory / "temp" / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    return f"""# Written by scripts/prodlike for one run; the site itself is {TEMPLATE.relative_to(ROOT)}.
worker_processes auto;
pid {directory / "nginx.pid"};
error_log {directory / "logs" / "error.log"} warn;
worker_rlimit_nofile 16384;
events {{
    worker_connections 8192;
}}
http {{
    include {MIME_TYPES};
    default_type application/octet-stream;
    access_log {directory / "logs" / "access.log"};
    sendfile on;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {site};
}}
"""


def self_signed_certificate(cert: Path, key: Path, host: str) -> None:
    """A certificate for `host` (an IP address) valid for two days, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "liveblog prodlike")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.touch(mode=0o600)
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (str(p) for p in (Path("/usr/sbin/nginx"), Path("/usr/local/sbin/nginx")) if p.exists()), None
    )
    if found is None:
        raise FileNotFoundError("nginx not found: apt-get install -y nginx-light")
    return found


def nginx_process(directory: Path, config: Path, port: int, logdir: Path) -> Managed:
    """nginx in the foreground (a child we stop by PID), after `nginx -t` has read the config."""
    binary = nginx_binary()
    argv = [binary, "-p", str(directory), "-c", str(config), "-e", str(directory / "logs" / "error.log")]
    checked = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx refused {config}:\n{checked.stderr}")
    return Managed("nginx", [*argv, "-g", "daemon off;"], {"PATH": "/usr/sbin:/usr/bin:/bin"}, port, logdir)
