"""TLS for the hub: a dev PKI for embedded runs, hardened SSL contexts, and institution identity.

`ensure_dev_pki` makes (once) a CA, a server certificate, one client certificate per institution
and one for the hub itself. An institution's certificate binds its id in the subjectAltName URI
`urn:hub:institution:<id>`; `institution_of` reads that binding back, and nothing else (never the
CN), so only a CA the hub trusts for client certificates can vouch for an institution.
`server_context` / `client_context` speak TLS 1.2+ with AEAD ciphers and always verify the peer.
`TlsSettings` ([gateway.tls] in hub.toml) and `PartnerTlsSettings` ([tls]) are the config.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import ssl
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ClientCerts = Literal["none", "optional", "required"]
INSTITUTION_URI = "urn:hub:institution:"
HUB_URI = "urn:hub:service:hub"
DEFAULT_HOSTS = ("127.0.0.1", "::1", "localhost")
# ECDHE only (forward secrecy) with AEAD; TLS 1.3 suites are all AEAD and are not affected by this.
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS"
CA_DAYS, LEAF_DAYS = 3650, 365
RENEW_BEFORE = timedelta(days=30)  # a dev leaf this close to its end is reissued by ensure_dev_pki


class TlsError(Exception):
    """TLS material or settings are unusable; the message names the file or setting and the fix."""


# ----------------------------------------------------------------------------- contexts


def _no_passphrase() -> bytes:
    return b""  # an encrypted key then fails to load, instead of OpenSSL asking on the terminal


def _harden(ctx: ssl.SSLContext) -> None:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.set_alpn_protocols(["http/1.1"])  # the gateway and the sandboxes speak HTTP/1.1 only


def server_context(
    cert: Path | str, key: Path | str, client_ca: Path | str | None = None, client_certs: ClientCerts = "none"
) -> ssl.SSLContext:
    """A server context (TLS 1.2+). With "optional" / "required" it asks for a client certificate
    and verifies it against `client_ca`: a certificate that does not verify fails the handshake in
    both modes; "required" also fails a handshake without one. Raises TlsError on bad material."""
    if client_certs not in ("none", "optional", "required"):
        raise TlsError(f"client_certs must be none, optional or required, not {client_certs!r}")
    if client_certs != "none" and client_ca is None:
        raise TlsError(
            f"client_certs={client_certs!r} needs client_ca: the CA file that issues the client certificates"
        )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _harden(ctx)
    try:
        ctx.load_cert_chain(cert, key, _no_passphrase)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(
            f"cannot load server certificate {cert} with key {key}: {exc}; check both (the key must not be encrypted)"
        ) from None
    if client_certs != "none":
        try:
            ctx.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"cannot load client CA {client_ca}: {exc}; it must be a PEM certificate file") from None
        ctx.verify_mode = ssl.CERT_REQUIRED if client_certs == "required" else ssl.CERT_OPTIONAL
    return ctx


def client_context(
    ca: Path | str | Sequence[Path | str] | None,
    cert: Path | str | None = None,
    key: Path | str | None = None,
    *,
    public_cas: bool = False,
) -> ssl.SSLContext:
    """A client context (TLS 1.2+) that verifies the server's certificate and host name against
    `ca` (one file or several), plus the public CAs httpx trusts by default when `ca` is None or
    `public_cas`, and presents `cert` when the server asks for a client certificate. Raises
    TlsError on bad material."""
    if (cert is None) != (key is None):
        raise TlsError("a client certificate needs both cert and key (or neither)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname are its defaults
    _harden(ctx)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    cafiles: list[Path | str] = [] if ca is None else [ca] if isinstance(ca, Path | str) else list(ca)
    if ca is None or public_cas:
        import certifi  # the bundle httpx itself trusts when verify=True

        cafiles.append(certifi.where())
    if not cafiles:
        raise TlsError("no CA to check servers against: give a CA file, or public_cas=True")
    for cafile in cafiles:
        try:
            ctx.load_verify_locations(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"cannot load CA file {cafile}: {exc}; it must be a PEM certificate file") from None
    if cert is not None:
        try:
            ctx.load_cert_chain(cert, key, _no_passphrase)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(
                f"cannot load client certificate {cert} with key {key}: {exc}; check both (unencrypted key)"
            ) from None
    return ctx


# ----------------------------------------------------------------------------- identity


def _check_id(institution_id: str) -> bool:
    from canonical.envelope import ID_PATTERN  # canonical loads every codec: only callers that need ids pay

    return re.fullmatch(ID_PATTERN, institution_id) is not None


def institution_uri(institution_id: str) -> str:
    """The subjectAltName URI that binds a client certificate to an institution."""
    return INSTITUTION_URI + institution_id


def institution_of(cert_der: bytes) -> str | None:
    """The institution id a certificate is bound to (its one `urn:hub:institution:<id>` SAN URI),
    or None: no such URI, several different ones, an invalid id, or not a certificate. It does not
    verify the certificate: give it only what the TLS handshake verified."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    ids = {
        uri.removeprefix(INSTITUTION_URI)
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(INSTITUTION_URI)
    }
    if len(ids) != 1:
        return None
    (found,) = ids
    return found if _check_id(found) else None


# ----------------------------------------------------------------------------- expiry


@dataclass(frozen=True)
class ExpiringCertificate:
    path: Path
    subject: str
    not_after: datetime


def _certificates(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise TlsError(f"cannot read certificates from {path}: {exc}") from None


def expiring(paths: Iterable[Path], within: timedelta, now: datetime) -> list[ExpiringCertificate]:
    """Every certificate in `paths` (PEM files, bundles included) that ends before `now + within`,
    expired ones too, soonest first. Raises TlsError naming a file that holds no certificate."""
    found = [
        ExpiringCertificate(path, cert.subject.rfc4514_string(), cert.not_valid_after_utc)
        for path in paths
        for cert in _certificates(path)
        if cert.not_valid_after_utc <= now + within
    ]
    return sorted(found, key=lambda e: e.not_after)


# ----------------------------------------------------------------------------- dev PKI


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class DevPki:
    """Paths of the dev PKI. `ca` is the certificate to trust; its key never leaves `directory`."""

    directory: Path
    ca: Path
    server: CertPair
    hub_client: CertPair
    institutions: Mapping[str, CertPair] = field(default_factory=dict)

    def certificates(self) -> list[Path]:
        """Every certificate file of this PKI, e.g. for `expiring`."""
        return [self.ca, self.server.cert, self.hub_client.cert, *(p.cert for p in self.institutions.values())]


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), mode)  # a leftover .tmp keeps its old mode through O_TRUNC
        fh.write(data)
    tmp.replace(path)


def _load_pair(pair: CertPair) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
        key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or _spki(key.public_key()) != _spki(cert.public_key()):
        return None
    return cert, key


def _spki(key: object) -> bytes:
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _issue(
    pair: CertPair,
    subject: str,
    now: datetime,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    sans: Sequence[x509.GeneralName] = (),
    usage: x509.ObjectIdentifier | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new key and certificate: self-signed CA when `issuer` is None, else a leaf for `usage`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    is_ca = issuer is None
    signer_cert, signer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(signer_cert.subject if signer_cert else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # tolerate small clock differences
        .not_valid_after(now + timedelta(days=CA_DAYS if is_ca else LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if signer_cert is not None:
        ski = signer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    cert = builder.sign(signer_key, hashes.SHA256())
    # key before certificate: a certificate on disk always has its key next to it
    _write(
        pair.key,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        0o600,
    )
    _write(pair.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key


def _names(cert: x509.Certificate) -> set[str]:
    try:
        return {_general_name(n) for n in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value}
    except x509.ExtensionNotFound:
        return set()


def _general_name(name: x509.GeneralName) -> str:
    return ("uri:" if isinstance(name, x509.UniformResourceIdentifier) else "") + str(name.value)


def _host_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / ".lock", "a") as fh:  # two processes on one HUB_HOME issue each certificate once
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def ensure_dev_pki(
    directory: Path,
    institutions: Iterable[str],
    server_hosts: Sequence[str] = DEFAULT_HOSTS,
    now: datetime | None = None,
) -> DevPki:
    """The dev PKI under `directory` (0700; keys 0600), created on first use and reused after.

    Issues only what is missing or unusable: a certificate without its key, one not signed by the
    current CA, one within RENEW_BEFORE of its end, a server certificate whose names differ from
    `server_hosts`, a client certificate not bound to its institution. A new CA reissues every
    leaf. `institutions` get client certificates (SAN URI `urn:hub:institution:<id>`, CN = id);
    the result lists those asked for. Raises TlsError for an id that is not a valid institution id.
    """
    ids = list(dict.fromkeys(institutions))
    bad = [i for i in ids if not _check_id(i)]
    if bad:
        raise TlsError(f"not valid institution ids for a client certificate: {', '.join(map(repr, bad))}")
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "institutions").mkdir(mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    with _locked(directory):
        ca_pair = CertPair(directory / "ca.pem", directory / "ca.key")
        ca = _load_pair(ca_pair)
        if ca is None or ca[0].not_valid_after_utc - RENEW_BEFORE <= now:
            ca = _issue(ca_pair, "hub dev CA", now, None)

        def leaf(pair: CertPair, subject: str, sans: list[x509.GeneralName], usage: x509.ObjectIdentifier) -> None:
            have = _load_pair(pair)
            if have is not None:
                cert = have[0]
                try:
                    cert.verify_directly_issued_by(ca[0])
                    fresh = cert.not_valid_after_utc - RENEW_BEFORE > now
                except (ValueError, TypeError, InvalidSignature):
                    fresh = False
                if fresh and _names(cert) == {_general_name(n) for n in sans}:
                    return
            _issue(pair, subject, now, ca, sans, usage)

        server = CertPair(directory / "server.pem", directory / "server.key")
        leaf(server, "hub dev server", _host_names(server_hosts), ExtendedKeyUsageOID.SERVER_AUTH)
        hub = CertPair(directory / "hub-client.pem", directory / "hub-client.key")
        leaf(hub, "hub", [x509.UniformResourceIdentifier(HUB_URI)], ExtendedKeyUsageOID.CLIENT_AUTH)
        issued = {}
        for iid in ids:
            pair = CertPair(directory / "institutions" / f"{iid}.pem", directory / "institutions" / f"{iid}.key")
            leaf(pair, iid, [x509.UniformResourceIdentifier(institution_uri(iid))], ExtendedKeyUsageOID.CLIENT_AUTH)
            issued[iid] = pair
    return DevPki(directory, ca_pair.cert, server, hub, issued)


# ----------------------------------------------------------------------------- settings


def _empty_is_none(value: object) -> object:
    return None if value == "" else value  # hub.toml has no null: "" means "not set"


def _readable(setting: str, path: Path | None) -> None:
    if path is None:
        return
    if not path.is_file():
        raise ValueError(f"{setting}: {path} does not exist or is not a file; give the path of a PEM file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{setting}: {path} is not readable by this user; fix its owner or mode")


def _check_pair(cert_setting: str, cert: Path | None, key_setting: str, key: Path | None) -> None:
    if (cert is None) != (key is None):
        raise ValueError(f"{cert_setting} and {key_setting}: set both or neither")
    _readable(cert_setting, cert)
    _readable(key_setting, key)
    if cert is not None:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert, key, _no_passphrase)
        except ssl.SSLError as exc:
            raise ValueError(
                f"{key_setting}: {key} is not the key of {cert_setting} {cert}, or is encrypted ({exc})"
            ) from None


def _check_ca(setting: str, path: Path | None) -> None:
    _readable(setting, path)
    if path is not None:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
        except ssl.SSLError as exc:
            raise ValueError(f"{setting}: {path} holds no PEM CA certificate ({exc})") from None


@dataclass(frozen=True)
class ServerTls:
    """The gateway's resolved TLS material. `dev` is set when it comes from the dev PKI; then
    `dev.ca` is what clients (the CLI) must trust."""

    cert: Path
    key: Path
    client_ca: Path | None
    client_certs: ClientCerts
    dev: DevPki | None = None

    def context(self) -> ssl.SSLContext:
        return server_context(self.cert, self.key, self.client_ca, self.client_certs)


class TlsSettings(BaseModel):
    """[gateway.tls] in hub.toml: HTTPS on the gateway, and whether it asks for client certificates.

    With `enabled` and no `cert_file`, the dev PKI under $HUB_HOME/tls serves, and its CA is also
    the client CA unless `client_ca_file` is set. Files are checked (exist, readable, key matches
    certificate) only when enabled; errors name the setting."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    cert_file: Path | None = Field(default=None, description="PEM server certificate (chain after it); empty: dev PKI")
    key_file: Path | None = Field(default=None, description="PEM key of cert_file")
    client_ca_file: Path | None = Field(default=None, description="CA(s) of institutions' client certificates")
    client_certs: ClientCerts = Field(default="none", description="ask for client certificates: none|optional|required")

    _empty = field_validator("cert_file", "key_file", "client_ca_file", mode="before")(_empty_is_none)

    @model_validator(mode="after")
    def _usable(self) -> TlsSettings:
        if not self.enabled:
            return self
        _check_pair("cert_file", self.cert_file, "key_file", self.key_file)
        _check_ca("client_ca_file", self.client_ca_file)
        if self.client_certs != "none" and self.cert_file is not None and self.client_ca_file is None:
            raise ValueError(
                f"client_ca_file: needed when client_certs is {self.client_certs!r} with your own cert_file "
                "(the CA that issues institutions' client certificates)"
            )
        return self

    def server_tls(
        self, home: Path, institutions: Iterable[str] = (), hosts: Sequence[str] = DEFAULT_HOSTS
    ) -> ServerTls | None:
        """None when disabled; else the files to serve with, issuing the dev PKI (server certificate
        for `hosts`, client certificates for `institutions`) under `home`/tls when no cert_file."""
        if not self.enabled:
            return None
        if self.cert_file is not None and self.key_file is not None:
            return ServerTls(self.cert_file, self.key_file, self.client_ca_file, self.client_certs)
        dev = ensure_dev_pki(home / "tls", institutions, hosts)
        return ServerTls(dev.server.cert, dev.server.key, self.client_ca_file or dev.ca, self.client_certs, dev)


class PartnerTlsSettings(BaseModel):
    """[tls] in hub.toml: how the hub checks partners' HTTPS servers, and the client certificate it
    shows a partner that asks for one (mutual TLS)."""

    model_config = ConfigDict(extra="forbid")
    ca_file: Path | None = Field(default=None, description="CA bundle for partners' servers; empty: public CAs")
    client_cert_file: Path | None = Field(default=None, description="the hub's PEM client certificate")
    client_key_file: Path | None = Field(default=None, description="PEM key of client_cert_file")

    _empty = field_validator("ca_file", "client_cert_file", "client_key_file", mode="before")(_empty_is_none)

    @model_validator(mode="after")
    def _usable(self) -> PartnerTlsSettings:
        _check_ca("ca_file", self.ca_file)
        _check_pair("client_cert_file", self.client_cert_file, "client_key_file", self.client_key_file)
        return self

    def context(self, dev: DevPki | None = None) -> ssl.SSLContext:
        """The context for partner calls. With `dev` (an embedded run with TLS sandboxes) it also
        trusts the dev CA, and shows the dev hub certificate when no client_cert_file is set."""
        cas = [ca for ca in (self.ca_file, dev.ca if dev else None) if ca is not None]
        cert, key = self.client_cert_file, self.client_key_file
        if cert is None and dev is not None:
            cert, key = dev.hub_client.cert, dev.hub_client.key
        return client_context(cas, cert, key, public_cas=self.ca_file is None)
