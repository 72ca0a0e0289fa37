"""The dev PKI, the TLS contexts, institution binding, expiry and the TLS settings (no network:
handshakes run between two in-memory TLS endpoints)."""

from __future__ import annotations

import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError

from security.tls import (
    ClientCerts,
    DevPki,
    PartnerTlsSettings,
    TlsError,
    TlsSettings,
    client_context,
    ensure_dev_pki,
    expiring,
    institution_of,
    server_context,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki") / "tls", ["bank-a", "bank-b"])


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("other") / "tls", ["bank-a"])


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _der(path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def _files(directory: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, host: str = "127.0.0.1") -> ssl.SSLObject:
    """Run a TLS handshake between two in-memory endpoints; the server side when it succeeded."""
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    cli = client.wrap_bio(c_in, c_out, server_hostname=host)
    done = {"server": False, "client": False}
    for _ in range(10):  # a handshake is a few flights; more means it is stuck
        for side, endpoint in (("client", cli), ("server", srv)):
            if not done[side]:
                try:
                    endpoint.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
            s_in.write(c_out.read())
            c_in.write(s_out.read())
        if all(done.values()):
            return srv
    raise AssertionError("handshake did not finish")


# ----------------------------------------------------------------------------- the dev PKI


def test_dev_pki_is_created_once_and_reused(tmp_path: Path) -> None:
    first = ensure_dev_pki(tmp_path / "tls", ["bank-a"])
    before = _files(tmp_path / "tls")
    second = ensure_dev_pki(tmp_path / "tls", ["bank-a"])
    assert second == first
    assert _files(tmp_path / "tls") == before


def test_a_later_call_adds_missing_institution_certificates_only(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path / "tls", ["bank-a"])
    before = _files(tmp_path / "tls")
    pki = ensure_dev_pki(tmp_path / "tls", ["bank-a", "bank-c"])
    after = _files(tmp_path / "tls")
    assert {p: after[p] for p in before} == before
    assert set(pki.institutions) == {"bank-a", "bank-c"}
    assert institution_of(_der(pki.institutions["bank-c"].cert)) == "bank-c"


def test_key_files_are_readable_by_the_owner_only(pki: DevPki) -> None:
    keys = list(pki.directory.rglob("*.key"))
    assert len(keys) == 5  # CA, server, hub, two institutions
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    assert stat.S_IMODE(pki.directory.stat().st_mode) == 0o700


def test_an_institution_certificate_is_bound_to_its_id(pki: DevPki) -> None:
    cert = _cert(pki.institutions["bank-a"].cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:hub:institution:bank-a"]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "bank-a"
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert institution_of(_der(pki.institutions["bank-a"].cert)) == "bank-a"


def test_certificates_bound_to_no_institution_name_none(pki: DevPki) -> None:
    assert institution_of(_der(pki.server.cert)) is None
    assert institution_of(_der(pki.hub_client.cert)) is None
    assert institution_of(_der(pki.ca)) is None
    assert institution_of(b"not a certificate") is None


def test_the_server_certificate_names_the_loopback_hosts(pki: DevPki) -> None:
    san = _cert(pki.server.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]


def test_changed_server_hosts_reissue_the_server_certificate_only(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path / "tls", ["bank-a"])
    before = _files(tmp_path / "tls")
    pki = ensure_dev_pki(tmp_path / "tls", ["bank-a"], server_hosts=("127.0.0.1", "hub.example"))
    after = _files(tmp_path / "tls")
    assert {p for p in before if after[p] != before[p]} == {pki.server.cert, pki.server.key}
    san = _cert(pki.server.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["hub.example"]


def test_leaves_near_their_end_are_reissued_but_the_ca_is_kept(tmp_path: Path) -> None:
    first = ensure_dev_pki(tmp_path / "tls", ["bank-a"])
    ca_before = first.ca.read_bytes()
    later = datetime.now(UTC) + timedelta(days=350)
    pki = ensure_dev_pki(tmp_path / "tls", ["bank-a"], now=later)
    assert pki.ca.read_bytes() == ca_before
    assert _cert(pki.server.cert).not_valid_after_utc > later + timedelta(days=300)
    assert _cert(pki.institutions["bank-a"].cert).not_valid_after_utc > later + timedelta(days=300)


def test_a_certificate_without_its_key_is_reissued(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path / "tls", ["bank-a"])
    pki.institutions["bank-a"].key.unlink()
    ensure_dev_pki(tmp_path / "tls", ["bank-a"])
    server = server_context(pki.server.cert, pki.server.key, pki.ca, "required")
    srv = handshake(server, client_context(pki.ca, pki.institutions["bank-a"].cert, pki.institutions["bank-a"].key))
    assert institution_of(srv.getpeercert(binary_form=True) or b"") == "bank-a"


def test_an_invalid_institution_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TlsError, match=r"'\.\./etc'"):
        ensure_dev_pki(tmp_path / "tls", ["bank-a", "../etc"])


# ----------------------------------------------------------------------------- expiry


def test_expiring_lists_certificates_ending_within_the_delta(pki: DevPki) -> None:
    now = datetime.now(UTC)
    assert expiring(pki.certificates(), timedelta(days=30), now) == []
    soon = expiring(pki.certificates(), timedelta(days=400), now)
    assert {e.path for e in soon} == set(pki.certificates()) - {pki.ca}  # leaves: 1 year, the CA: 10
    assert [e.not_after for e in soon] == sorted(e.not_after for e in soon)
    assert "CN=bank-a" in {e.subject for e in soon}


def test_expiring_lists_expired_certificates_too(pki: DevPki) -> None:
    found = expiring([pki.server.cert], timedelta(0), datetime.now(UTC) + timedelta(days=3700))
    assert [e.path for e in found] == [pki.server.cert]


def test_expiring_names_a_file_without_certificates(tmp_path: Path) -> None:
    bad = tmp_path / "empty.pem"
    bad.write_text("nothing here")
    with pytest.raises(TlsError, match=r"empty\.pem"):
        expiring([bad], timedelta(days=1), datetime.now(UTC))


# ----------------------------------------------------------------------------- contexts


def test_the_server_sees_which_institution_connected(pki: DevPki) -> None:
    server = server_context(pki.server.cert, pki.server.key, pki.ca, "required")
    bank = pki.institutions["bank-b"]
    srv = handshake(server, client_context(pki.ca, bank.cert, bank.key))
    assert institution_of(srv.getpeercert(binary_form=True) or b"") == "bank-b"
    assert srv.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize("mode", ["optional", "required"])
def test_a_client_certificate_from_another_ca_is_refused(pki: DevPki, other_pki: DevPki, mode: ClientCerts) -> None:
    foreign = other_pki.institutions["bank-a"]  # claims bank-a, issued by a CA the server does not trust
    server = server_context(pki.server.cert, pki.server.key, pki.ca, mode)
    with pytest.raises(ssl.SSLError):
        handshake(server, client_context(pki.ca, foreign.cert, foreign.key))


def test_required_mode_refuses_a_client_without_certificate(pki: DevPki) -> None:
    server = server_context(pki.server.cert, pki.server.key, pki.ca, "required")
    with pytest.raises(ssl.SSLError):
        handshake(server, client_context(pki.ca))


def test_optional_mode_admits_a_client_without_certificate(pki: DevPki) -> None:
    server = server_context(pki.server.cert, pki.server.key, pki.ca, "optional")
    assert handshake(server, client_context(pki.ca)).getpeercert(binary_form=True) is None


def test_a_server_certificate_is_no_client_certificate(pki: DevPki) -> None:
    server = server_context(pki.server.cert, pki.server.key, pki.ca, "required")
    with pytest.raises(ssl.SSLError):
        handshake(server, client_context(pki.ca, pki.server.cert, pki.server.key))


def test_the_client_refuses_a_server_of_another_ca(pki: DevPki, other_pki: DevPki) -> None:
    server = server_context(other_pki.server.cert, other_pki.server.key)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server, client_context(pki.ca))


def test_the_client_checks_the_host_name(pki: DevPki) -> None:
    server = server_context(pki.server.cert, pki.server.key)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server, client_context(pki.ca), host="partner.example")


def test_contexts_set_tls_1_2_as_the_floor_and_always_verify(pki: DevPki) -> None:
    server = server_context(pki.server.cert, pki.server.key, pki.ca, "optional")
    client = client_context(pki.ca)
    assert server.minimum_version == client.minimum_version == ssl.TLSVersion.TLSv1_2
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname


def test_without_a_ca_file_the_public_cas_are_trusted(pki: DevPki) -> None:
    public = client_context(None).cert_store_stats()["x509_ca"]
    assert public > 50
    assert client_context(pki.ca, public_cas=True).cert_store_stats()["x509_ca"] == public + 1
    assert client_context(pki.ca).cert_store_stats()["x509_ca"] == 1
    with pytest.raises(TlsError, match="no CA"):
        client_context([])


def test_asking_for_client_certificates_needs_a_client_ca(pki: DevPki) -> None:
    with pytest.raises(TlsError, match="needs client_ca"):
        server_context(pki.server.cert, pki.server.key, None, "required")


def test_a_key_that_does_not_match_is_named(pki: DevPki) -> None:
    with pytest.raises(TlsError, match=r"server\.pem"):
        server_context(pki.server.cert, pki.hub_client.key)
    with pytest.raises(TlsError, match="both cert and key"):
        client_context(pki.ca, pki.hub_client.cert)


# ----------------------------------------------------------------------------- settings


def test_tls_is_off_by_default_and_then_checks_nothing() -> None:
    settings = TlsSettings.model_validate({"cert_file": "/nowhere/cert.pem", "key_file": "/nowhere/key.pem"})
    assert not settings.enabled
    assert settings.server_tls(Path("/nowhere")) is None


def test_empty_files_mean_the_dev_pki(tmp_path: Path) -> None:
    settings = TlsSettings.model_validate(
        {"enabled": True, "cert_file": "", "key_file": "", "client_certs": "optional"}
    )
    tls = settings.server_tls(tmp_path, ["bank-a"])
    assert tls is not None and tls.dev is not None
    assert tls.cert == tls.dev.server.cert and tls.client_ca == tls.dev.ca
    assert set(tls.dev.institutions) == {"bank-a"}
    assert tls.context().verify_mode == ssl.CERT_OPTIONAL


def test_own_certificate_files_are_used_as_given(pki: DevPki, tmp_path: Path) -> None:
    settings = TlsSettings(enabled=True, cert_file=pki.server.cert, key_file=pki.server.key)
    tls = settings.server_tls(tmp_path)
    assert tls is not None and tls.dev is None and tls.cert == pki.server.cert
    assert not (tmp_path / "tls").exists()


def test_a_missing_file_is_named_by_its_setting(pki: DevPki, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"cert_file: .*missing\.pem does not exist"):
        TlsSettings(enabled=True, cert_file=tmp_path / "missing.pem", key_file=pki.server.key)


def test_a_certificate_without_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="cert_file and key_file: set both or neither"):
        TlsSettings.model_validate({"enabled": True, "cert_file": "/etc/hostname"})


def test_a_key_of_another_certificate_is_refused(pki: DevPki) -> None:
    with pytest.raises(ValidationError, match=r"key_file: .* is not the key of cert_file"):
        TlsSettings(enabled=True, cert_file=pki.server.cert, key_file=pki.hub_client.key)


def test_an_encrypted_key_is_refused_without_asking_for_a_passphrase(pki: DevPki, tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(pki.server.key.read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    with pytest.raises(TlsError, match="must not be encrypted"):
        server_context(pki.server.cert, encrypted)
    with pytest.raises(ValidationError, match=r"key_file: .* is encrypted"):
        TlsSettings(enabled=True, cert_file=pki.server.cert, key_file=encrypted)


def test_own_certificate_with_client_certificates_needs_a_client_ca(pki: DevPki) -> None:
    with pytest.raises(ValidationError, match="client_ca_file: needed"):
        TlsSettings(enabled=True, cert_file=pki.server.cert, key_file=pki.server.key, client_certs="required")


def test_an_unknown_client_certs_mode_is_refused() -> None:
    with pytest.raises(ValidationError, match="client_certs"):
        TlsSettings.model_validate({"enabled": True, "client_certs": "sometimes"})


def test_partner_settings_trust_the_dev_ca_and_show_the_hub_certificate(pki: DevPki) -> None:
    context = PartnerTlsSettings().context(pki)
    server = server_context(pki.server.cert, pki.server.key, pki.ca, "required")
    srv = handshake(server, context)
    peer = x509.load_der_x509_certificate(srv.getpeercert(binary_form=True) or b"")
    assert peer.subject.rfc4514_string() == "CN=hub"


def test_partner_settings_name_an_unreadable_ca_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"ca_file: .*nope\.pem does not exist"):
        PartnerTlsSettings(ca_file=tmp_path / "nope.pem")
