"""Settings that production deployments pass: libpq's TLS parameters in DATABASE_URL, and the
secrets the laptop stack keeps in its data folder."""

from __future__ import annotations

import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.config import asyncpg_connection, kept_secret

URL = "postgresql+asyncpg://u:p@db.example.internal:5432/gridcase"


def a_ca_certificate(folder: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gridcase test CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = folder / "root.crt"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def test_a_url_without_tls_parameters_is_left_alone() -> None:
    assert asyncpg_connection(URL + "?host=/run/pg") == (URL + "?host=/run/pg", {})


def test_sslmode_becomes_asyncpgs_ssl_mode_and_other_parameters_stay() -> None:
    url, args = asyncpg_connection(URL + "?sslmode=require&application_name=gridcase")
    assert url == URL + "?application_name=gridcase"
    assert args == {"ssl": "require"}


def test_verify_full_with_a_root_certificate_checks_the_server_name(tmp_path: Path) -> None:
    root = a_ca_certificate(tmp_path)
    url, args = asyncpg_connection(f"{URL}?sslmode=verify-full&sslrootcert={root}")
    assert url == URL
    context = args["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any("gridcase test CA" in str(c["subject"]) for c in context.get_ca_certs())


def test_verify_ca_checks_the_chain_but_not_the_name(tmp_path: Path) -> None:
    root = a_ca_certificate(tmp_path)
    _, args = asyncpg_connection(f"{URL}?sslmode=verify-ca&sslrootcert={root}")
    assert args["ssl"].verify_mode == ssl.CERT_REQUIRED
    assert not args["ssl"].check_hostname


def test_an_unknown_sslmode_is_refused() -> None:
    with pytest.raises(ValueError, match="sslmode"):
        asyncpg_connection(URL + "?sslmode=always")


def test_processes_started_together_never_read_a_half_written_secret(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    made = iter(f"secret-{i}" for i in range(100))

    def slow_make() -> str:
        time.sleep(0.05)  # the window in which a second starter could see an empty file
        return next(made)

    read: list[str] = []
    starters = [
        threading.Thread(target=lambda: read.append(kept_secret.__wrapped__(path, slow_make)))
        for _ in range(8)
    ]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join()
    assert len(set(read)) == 1 and read[0].startswith("secret-")
    assert path.read_text() == read[0]
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["jwt-secret"]  # no temporary left
