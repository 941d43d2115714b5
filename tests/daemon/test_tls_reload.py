"""A renewed TLS certificate is served without a restart: on SIGHUP, and when the files change."""

from __future__ import annotations

import shutil
import signal
import ssl
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.support.daemon_proc import DaemonProcess, free_port
from tests.support.tlscerts import Pki, make_pki

pytestmark = pytest.mark.slow


def fingerprint(pem: str | bytes) -> bytes:
    """SHA-256 fingerprint of the first certificate in `pem`."""
    data = pem.encode() if isinstance(pem, str) else pem
    return x509.load_pem_x509_certificate(data).fingerprint(hashes.SHA256())


def served(port: int) -> bytes | None:
    """Fingerprint of the certificate the daemon presents now (None while it does not answer)."""
    try:
        return fingerprint(ssl.get_server_certificate(("127.0.0.1", port), timeout=5))
    except OSError:
        return None


def install(pki: Pki, cert: Path, key: Path) -> None:
    """Copy a pair over the served files the way a renewal does: write aside, then rename."""
    for source, target in ((pki.server_key, key), (pki.server_cert, cert)):
        staged = target.with_suffix(".new")
        shutil.copyfile(source, staged)
        staged.replace(target)


def wait_served(daemon: DaemonProcess, port: int, want: bytes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        daemon.check_alive()
        if served(port) == want:
            return
        time.sleep(0.2)
    raise AssertionError(f"certificate {want.hex()[:16]} not served:\n{daemon.log()}")


def wait_log(daemon: DaemonProcess, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in daemon.log():
        daemon.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not logged:\n{daemon.log()}")
        time.sleep(0.1)


def test_renewed_certificate_is_served_after_sighup_and_after_a_change(tmp_path: Path) -> None:
    first, second = make_pki(tmp_path / "first"), make_pki(tmp_path / "second")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    install(first, cert, key)
    config = tmp_path / "qw.toml"
    # An hour between file checks: only SIGHUP can explain the first switch.
    config.write_text(
        f'[server]\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
        'tls_reload_interval = "1h"\n'
        '[[accounts]]\nname = "host"\ncollector = "host"\ninterval = "1h"\n'
    )
    port = free_port()
    with DaemonProcess(tmp_path, port, config) as daemon:
        wait_served(daemon, port, fingerprint(first.server_cert.read_bytes()))

        install(second, cert, key)
        time.sleep(1)
        assert served(port) == fingerprint(first.server_cert.read_bytes())
        daemon.signal(signal.SIGHUP)
        wait_served(daemon, port, fingerprint(second.server_cert.read_bytes()))

        # A mismatched pair (half-done renewal): the reload is refused, the working pair stays.
        shutil.copyfile(first.server_cert, cert)
        daemon.signal(signal.SIGHUP)
        wait_log(daemon, "KEY_VALUES_MISMATCH")
        assert "reload failed; keeping the running configuration" in daemon.log()
        assert served(port) == fingerprint(second.server_cert.read_bytes())
        assert daemon.stop() == 0, daemon.log()

    # Watching: the files change, no signal.
    config.write_text(config.read_text().replace('"1h"\n[[', '"1s"\n[[', 1))
    install(second, cert, key)
    port = free_port()
    with DaemonProcess(tmp_path, port, config) as daemon:
        wait_served(daemon, port, fingerprint(second.server_cert.read_bytes()))
        shutil.copyfile(first.server_cert, cert)  # the key has not landed yet
        wait_log(daemon, "still serving the previous pair")
        assert served(port) == fingerprint(second.server_cert.read_bytes())
        install(first, cert, key)
        wait_served(daemon, port, fingerprint(first.server_cert.read_bytes()))
        assert "TLS certificate reloaded" in daemon.log()
        assert daemon.stop() == 0, daemon.log()
