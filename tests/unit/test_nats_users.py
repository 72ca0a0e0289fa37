"""Internal services' NATS users: config validation, permission derivation, rendering for nats.conf."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import bcrypt
import nkeys
import pytest
import yaml

from routes.children import write_nats_config
from security.nats_users import (
    DEV_CREDENTIALS,
    HUB_CREDENTIALS,
    InternalService,
    ServicesConfigError,
    ServicesFile,
    conf_string,
    derive_jetstream_key,
    ensure_dev_passwords,
    ensure_hub_credentials,
    event_consumer_config,
    hash_password,
    hub_nats_access,
    is_public_user_nkey,
    permissions_for,
    render_authorization,
)

ROOT = Path(__file__).resolve().parents[2]
HASH = "$2b$11$" + "a" * 53  # shape of a bcrypt hash; nothing here checks a password against it


def user_nkey() -> tuple[str, str]:
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    return seed.decode(), nkeys.from_seed(seed).public_key.decode()


def load(tmp_path: Path, services: list[dict[str, Any]]) -> list[InternalService]:
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump({"services": services}))
    return ServicesFile.load(path).services


def refused(tmp_path: Path, services: list[dict[str, Any]]) -> str:
    with pytest.raises(ServicesConfigError) as caught:
        load(tmp_path, services)
    return str(caught.value)


LEDGER = InternalService(id="ledger", publish=["trade.invoice"], subscribe=["trade.invoice.completed", "alert.*"])


class TestConfig:
    def test_the_shipped_file_declares_the_ledger(self) -> None:
        [ledger] = ServicesFile.load(ROOT / "config" / "services.yaml").services
        assert (ledger.id, ledger.publish, ledger.subscribe) == (LEDGER.id, LEDGER.publish, LEDGER.subscribe)
        assert ledger.auth.nkey is None and ledger.auth.password_bcrypt is None  # dev password generated

    def test_a_missing_file_means_no_services(self, tmp_path: Path) -> None:
        assert ServicesFile.load(tmp_path / "services.yaml").services == []

    def test_an_unknown_field_is_refused_naming_the_service(self, tmp_path: Path) -> None:
        message = refused(tmp_path, [{"id": "ledger", "publsh": ["trade.invoice"]}])
        assert "service 'ledger': publsh: Extra inputs are not permitted" in message

    def test_a_publish_entry_that_is_not_a_type_names_service_field_and_entry(self, tmp_path: Path) -> None:
        message = refused(tmp_path, [{"id": "ledger", "publish": ["trade.invoice", "trade"]}])
        assert "service 'ledger': publish: [1] 'trade' is not a message type" in message

    @pytest.mark.parametrize("pattern", ["trade.*", "payment.credit_transfer"])
    def test_message_types_and_domain_globs_may_be_published(self, pattern: str) -> None:
        assert InternalService(id="s", publish=[pattern]).publish == [pattern]

    @pytest.mark.parametrize("pattern", ["*.*", "trade.>", ">", "Trade.invoice", "trade.invoice.x"])
    def test_wider_or_malformed_publish_patterns_are_refused(self, tmp_path: Path, pattern: str) -> None:
        assert "is not a message type" in refused(tmp_path, [{"id": "s", "publish": [pattern]}])

    @pytest.mark.parametrize(
        "pattern",
        ["trade.invoice.completed", "payment.*.*", "alert.*", "alert.critical", "trade.>", ">", "*.*.rejected"],
    )
    def test_event_patterns(self, pattern: str) -> None:
        assert InternalService(id="s", subscribe=[pattern]).subscribe == [pattern]

    @pytest.mark.parametrize(
        ("pattern", "problem"),
        [
            ("trade.invoice.complete", "unknown status 'complete'"),
            ("trade.invoice", "an event pattern is '<domain>.<name>.<status>'"),
            ("alert.critical.x", "an alert pattern is 'alert.<level>'"),
            ("trade.>.completed", "'>' may only be the last token"),
            ("trade.in voice.completed", "tokens are lower-case names or '*'"),
        ],
    )
    def test_bad_event_patterns_say_what_is_wrong(self, tmp_path: Path, pattern: str, problem: str) -> None:
        message = refused(tmp_path, [{"id": "ledger", "subscribe": [pattern]}])
        assert f"service 'ledger': subscribe: [0] {pattern!r}: {problem}" in message

    def test_a_dot_in_the_id_is_refused(self, tmp_path: Path) -> None:
        # '_INBOX_a.>' would also cover the inbox of a service 'a.b'.
        assert "service 'a.b': id: 'a.b' contains '.'" in refused(tmp_path, [{"id": "a.b"}])

    def test_the_hubs_own_user_name_is_reserved(self, tmp_path: Path) -> None:
        assert "'hub' is the hub's own NATS user" in refused(tmp_path, [{"id": "hub"}])

    def test_an_id_listed_twice_is_refused(self, tmp_path: Path) -> None:
        assert "service 'ledger' is listed twice" in refused(tmp_path, [{"id": "ledger"}, {"id": "ledger"}])

    def test_an_nkey_seed_in_config_is_refused_as_a_secret(self, tmp_path: Path) -> None:
        seed, _public = user_nkey()
        message = refused(tmp_path, [{"id": "ledger", "auth": {"nkey": seed}}])
        assert "service 'ledger': auth.nkey: this is an nkey seed, a secret" in message

    def test_an_nkey_with_a_broken_checksum_is_refused(self, tmp_path: Path) -> None:
        _seed, public = user_nkey()
        broken = public[:-1] + ("A" if public[-1] != "A" else "B")
        assert "not a public user nkey" in refused(tmp_path, [{"id": "ledger", "auth": {"nkey": broken}}])

    def test_an_account_nkey_is_not_a_user_nkey(self) -> None:
        account = nkeys.from_seed(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_ACCOUNT)).public_key.decode()
        assert not is_public_user_nkey(account) and is_public_user_nkey(user_nkey()[1])

    def test_a_cheap_bcrypt_hash_is_refused(self, tmp_path: Path) -> None:
        cheap = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
        message = refused(tmp_path, [{"id": "ledger", "auth": {"password_bcrypt": cheap}}])
        assert "service 'ledger': auth.password_bcrypt: bcrypt cost 04 is too low" in message

    def test_a_clear_password_is_not_a_hash(self, tmp_path: Path) -> None:
        message = refused(tmp_path, [{"id": "ledger", "auth": {"password_bcrypt": "secret"}}])
        assert "auth.password_bcrypt: not a bcrypt hash" in message

    def test_nkey_and_password_together_are_refused(self, tmp_path: Path) -> None:
        auth = {"nkey": user_nkey()[1], "password_bcrypt": HASH}
        assert "service 'ledger': auth: give either nkey or password_bcrypt" in refused(
            tmp_path, [{"id": "ledger", "auth": auth}]
        )

    def test_a_service_without_id_is_named_by_position(self, tmp_path: Path) -> None:
        assert "services[1]: id: Field required" in refused(tmp_path, [{"id": "ledger"}, {"publish": []}])

    def test_broken_yaml_names_the_file(self, tmp_path: Path) -> None:
        (tmp_path / "services.yaml").write_text("services: [\n")
        with pytest.raises(ServicesConfigError, match=r"services\.yaml: not valid YAML"):
            ServicesFile.load(tmp_path / "services.yaml")


class TestPermissions:
    def test_a_service_publishes_its_types_on_hub_in_and_hears_its_events(self) -> None:
        perms = permissions_for(LEDGER)
        assert perms["publish"]["allow"] == ["hub.in.trade.invoice"]
        assert perms["subscribe"]["allow"] == ["hub.evt.trade.invoice.completed", "hub.evt.alert.*", "_INBOX_ledger.>"]

    def test_a_domain_glob_becomes_a_token_wildcard(self) -> None:
        service = InternalService(id="p", publish=["payment.*"])
        assert permissions_for(service)["publish"]["allow"] == ["hub.in.payment.*"]

    def test_hub_only_subjects_are_denied_outright(self) -> None:
        perms = permissions_for(LEDGER)
        assert {"hub.dlq.>", "hub.out.>", "hub.evt.>", "$KV.hub-config.>", "$JS.API.>"} <= set(perms["publish"]["deny"])
        assert {"hub.dlq.>", "$KV.hub-config.>", "$JS.API.>", "_INBOX.>"} <= set(perms["subscribe"]["deny"])

    def test_no_allow_is_wider_than_a_deny(self) -> None:
        # nats-server lets deny win; an allow that a deny covers would be a silent misconfiguration.
        for service in (LEDGER, InternalService(id="p", subscribe=["payment.*.*"], durable_events=True)):
            perms = permissions_for(service)
            for direction in ("publish", "subscribe"):
                for allowed in perms[direction]["allow"]:
                    assert not any(_covers(deny, allowed) for deny in perms[direction]["deny"]), (direction, allowed)

    def test_durable_events_open_exactly_its_own_consumer(self) -> None:
        service = InternalService(id="p", publish=["payment.*"], subscribe=["payment.*.*"], durable_events=True)
        perms = permissions_for(service)
        assert perms["publish"]["allow"] == [
            "hub.in.payment.*",
            "$JS.API.CONSUMER.INFO.HUB_EVT.svc-p",
            "$JS.API.CONSUMER.MSG.NEXT.HUB_EVT.svc-p",
            "$JS.ACK.HUB_EVT.svc-p.>",
        ]
        assert "$JS.API.>" not in perms["publish"]["deny"]
        assert "$JS.API.CONSUMER.CREATE.>" in perms["publish"]["deny"]

    def test_a_service_that_only_listens_may_publish_nothing(self) -> None:
        # An empty allow list would mean "everything" to nats-server.
        perms = permissions_for(InternalService(id="w", subscribe=["trade.>"]))
        assert perms["publish"] == {"allow": [], "deny": [">"]}

    def test_the_durable_consumer_filters_exactly_its_subscriptions(self) -> None:
        service = InternalService(id="p", subscribe=["payment.*.completed", "alert.*"], durable_events=True)
        config = event_consumer_config(service)
        assert config.durable_name == "svc-p"
        assert config.filter_subjects == ["hub.evt.payment.*.completed", "hub.evt.alert.*"]


def _covers(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


class TestRendering:
    def test_the_hub_comes_first_with_full_rights(self) -> None:
        text = render_authorization(HASH, [LEDGER], {"ledger": HASH})
        hub_entry = text[text.index('user: "hub"') : text.index('user: "ledger"')]
        assert f'password: "{HASH}"' in hub_entry and "permissions" not in hub_entry

    def test_a_service_user_carries_its_permissions(self) -> None:
        text = render_authorization(HASH, [LEDGER], {"ledger": HASH})
        assert text.startswith("# Generated by the hub") and "authorization {\n  users = [\n" in text
        assert 'allow: ["hub.in.trade.invoice"]' in text
        assert 'allow: ["hub.evt.trade.invoice.completed", "hub.evt.alert.*", "_INBOX_ledger.>"]' in text

    def test_an_nkey_service_is_written_by_its_public_key_only(self) -> None:
        seed, public = user_nkey()
        service = InternalService(id="p", publish=["payment.*"], auth={"nkey": public})
        text = render_authorization(HASH, [service], {})
        assert f'nkey: "{public}"' in text and seed not in text and 'user: "p"' not in text

    def test_a_configured_hash_wins_over_a_dev_password(self) -> None:
        configured = "$2b$12$" + "b" * 53
        service = InternalService(id="ledger", auth={"password_bcrypt": configured})
        assert configured in render_authorization(HASH, [service], {"ledger": HASH}).split('user: "ledger"')[1]

    def test_a_service_without_any_credential_is_refused(self) -> None:
        with pytest.raises(ServicesConfigError, match="service 'ledger' has no NATS credential"):
            render_authorization(HASH, [LEDGER], {})

    def test_a_cluster_hub_may_be_an_nkey(self) -> None:
        _seed, public = user_nkey()
        text = render_authorization(None, [], {}, hub_nkey=public)
        assert f'nkey: "{public}"' in text and 'user: "hub"' not in text

    def test_the_hub_needs_exactly_one_credential(self) -> None:
        with pytest.raises(ValueError, match="exactly one"):
            render_authorization(None, [], {})
        with pytest.raises(ValueError, match="the hub's NATS credential: not a bcrypt hash"):
            render_authorization("plain-password", [], {})

    def test_rendering_is_deterministic(self) -> None:
        assert render_authorization(HASH, [LEDGER], {"ledger": HASH}) == render_authorization(
            HASH, [LEDGER], {"ledger": HASH}
        )


class TestConfString:
    @pytest.mark.parametrize(
        ("value", "written"),
        [
            ("plain", '"plain"'),
            ('a"b', '"a\\"b"'),
            ("a\\b", '"a\\\\b"'),
            ("a\nb\r\t", '"a\\nb\\r\\t"'),
            ("a\x00b\x7f", '"a\\x00b\\x7f"'),
            ("$2b$11$x", '"$2b$11$x"'),  # quoted, '$' starts no variable
            ("$KV.hub-config.>", '"$KV.hub-config.>"'),
        ],
    )
    def test_values_are_quoted_and_escaped(self, value: str, written: str) -> None:
        assert conf_string(value) == written

    def test_nothing_can_end_the_string_early(self) -> None:
        written = conf_string('x" } ] include "/etc/passwd')
        inner = written[1:-1]
        assert written.count('"') - inner.count('\\"') == 2


class TestCredentials:
    def test_the_hub_credentials_are_generated_once_and_owner_only(self, tmp_path: Path) -> None:
        path = tmp_path / HUB_CREDENTIALS
        first = ensure_hub_credentials(path)
        assert ensure_hub_credentials(path) == first
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert first.user == "hub" and bcrypt.checkpw(first.password.encode(), first.password_bcrypt.encode())

    def test_dev_passwords_only_for_services_without_auth(self, tmp_path: Path) -> None:
        nkey_service = InternalService(id="p", auth={"nkey": user_nkey()[1]})
        path = tmp_path / DEV_CREDENTIALS
        hashes = ensure_dev_passwords([LEDGER, nkey_service], path)
        stored = json.loads(path.read_text())
        assert set(hashes) == set(stored) == {"ledger"}
        assert stored["ledger"]["inbox_prefix"] == "_INBOX_ledger"
        assert bcrypt.checkpw(stored["ledger"]["password"].encode(), hashes["ledger"].encode())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert ensure_dev_passwords([LEDGER], path) == hashes  # reused, not regenerated

    def test_a_damaged_credentials_file_says_what_to_do(self, tmp_path: Path) -> None:
        (tmp_path / HUB_CREDENTIALS).write_text("[1, 2]")
        with pytest.raises(ServicesConfigError, match="delete it and the hub generates new credentials"):
            ensure_hub_credentials(tmp_path / HUB_CREDENTIALS)

    def test_hash_password_uses_a_prefix_and_cost_nats_server_accepts(self) -> None:
        hashed = hash_password("pw")
        assert hashed.startswith("$2b$11$") and InternalService(id="s", auth={"password_bcrypt": hashed})

    def test_the_composition_root_gets_block_and_hub_login(self, tmp_path: Path) -> None:
        access = hub_nats_access(tmp_path / "home", ROOT / "config")
        hub = json.loads((tmp_path / "home" / HUB_CREDENTIALS).read_text())
        assert (access.hub_user, access.hub_password) == (hub["user"], hub["password"])
        assert hub["password"] not in access.authorization and hub["password_bcrypt"] in access.authorization
        assert [s.id for s in access.services] == ["ledger"]


class TestNatsConfig:
    def test_without_new_arguments_the_config_is_as_before(self, tmp_path: Path) -> None:
        text = write_nats_config(tmp_path, 4222, "always").read_text()
        assert text == (
            'listen: "127.0.0.1:4222"\nserver_name: "hub-embedded"\n'
            f'jetstream {{\n  store_dir: "{(tmp_path / "jetstream").resolve()}"\n  sync_interval: always\n}}\n'
            "max_payload: 8MB\n"
        )

    def test_the_config_is_owner_only_and_carries_block_and_cipher(self, tmp_path: Path) -> None:
        block = render_authorization(HASH, [], {})
        conf = write_nats_config(tmp_path, 4222, "2m", authorization=block, encryption_key='k"ey')
        text = conf.read_text()
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600
        assert '  sync_interval: "2m"\n  cipher: chachapoly\n  key: "k\\"ey"\n' in text
        assert text.endswith(block)

    def test_the_jetstream_key_is_derived_per_kek(self) -> None:
        key = derive_jetstream_key(b"k" * 32)
        assert key == derive_jetstream_key(b"k" * 32) != derive_jetstream_key(b"j" * 32)
        assert len(key) == 64
        with pytest.raises(ValueError, match="too short"):
            derive_jetstream_key(b"short")
