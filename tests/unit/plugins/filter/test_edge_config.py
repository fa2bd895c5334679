"""Unit tests of the edge filters: Traefik v3 static/dynamic configuration, Authelia 4.39 configuration and users.

Every rendered document passes its upstream JSON schema (../shared/fixtures/schemas, validator per the
schema's $schema); the tests then assert what the documents do: HTTPS redirect, TLS floor, certificate
resolvers, forward-auth policies per seed route, password policy, LDAP, no secret anywhere, and the
message of every bad input.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter import edge_config
from ansible_collections.mediastack.core.plugins.filter.edge_config import (
    authelia_configuration, authelia_users_database, traefik_dynamic_config, traefik_static_config,
)
from ansible_collections.mediastack.core.plugins.module_utils.edge import traefik_authelia as edge
from ansible_collections.mediastack.core.plugins.module_utils.catalog.access import authelia_rules
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_catalog

ROOT = Path(__file__).resolve().parents[4]
SEED = yaml.safe_load((ROOT / "roles" / "services" / "files" / "catalog-seed.yml").read_text(encoding="utf-8"))
DOMAIN = "media.example.org"
BASE = {"domain": DOMAIN, "network": "mediastack_dmz"}
ACME_DNS = dict(BASE, acme={"email": "admin@example.org", "challenge": "dns", "dns_provider": "cloudflare", "resolvers": ["1.1.1.1:53"]})
ACME_HTTP = dict(BASE, acme={"email": "admin@example.org", "challenge": "http"})
USER_CERTS = dict(BASE, certificates=[{"cert_file": "/etc/traefik/certs/media.crt", "key_file": "/run/secrets/media_key"},
                                      {"cert_file": "/etc/traefik/certs/other.crt", "key_file": "/run/secrets/other_key"}])
LDAP_AD = {"implementation": "activedirectory", "address": "ldaps://dc1.example.org", "base_dn": "dc=example,dc=org",
           "user": "cn=authelia,ou=service,dc=example,dc=org", "additional_users_dn": "ou=users", "additional_groups_dn": "ou=groups",
           "tls_server_name": "dc1.example.org"}
LDAP_CUSTOM = {"implementation": "custom", "address": "ldap://ldap.example.org:389", "start_tls": True, "base_dn": "dc=example,dc=org",
               "user": "cn=authelia,dc=example,dc=org", "users_filter": "(&({username_attribute}={input})(objectClass=person))",
               "groups_filter": "(&(member={dn})(objectClass=groupOfNames))", "attributes": {"username": "uid", "mail": "mail"}, "timeout": "5s"}
SMTP = {"address": "submissions://smtp.example.org:465", "sender": "auth@example.org", "username": "auth@example.org",
        "tls_server_name": "smtp.example.org"}
SETTINGS_VARIANTS = {
    "acme-dns": ACME_DNS,
    "acme-http": ACME_HTTP,
    "user-certs-tls12": dict(USER_CERTS, tls_min_version="1.2"),
    "ldap-ad-smtp-zxcvbn": dict(ACME_DNS, ldap=LDAP_AD, smtp=SMTP, password_policy="zxcvbn", log_level="DEBUG"),
    "ldap-custom-relay": dict(ACME_HTTP, ldap=LDAP_CUSTOM, default_redirection_url="https://jellyfin.%s" % DOMAIN,
                              smtp={"address": "submission://relay.example.org:587", "sender": "Mediastack <auth@example.org>"}),
}
ARGON2 = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm8"
HASHES = {
    "argon2id": ARGON2,
    "pbkdf2": "$pbkdf2-sha512$310000$c2FsdHNhbHQ$Zm9vYmFyLmZvb2Jhci5mb29iYXIuZm9vYmFyLmZvb2Jhcg",
    "sha512crypt": "$6$rounds=50000$saltsaltsalt$Zm9vYmFyLmZvb2Jhci5mb29iYXIuZm9vYmFyLmZvb2Jhci5mb29iYXIuZm9vYmFyLmZvb2Jh",
    "bcrypt": "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    "scrypt": "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHQ$Zm9vYmFyZm9vYmFyZm9vYmFy",
}
PLAINTEXT = "Correct-Horse-Battery-Staple-42"


def catalog_with_env(**env):
    """The seed with extra env on authelia (and the secrets its *_FILE values point at)."""
    catalog = copy.deepcopy(SEED)
    for key, value in env.items():
        catalog["authelia"]["env"][key] = value
        if value.startswith("/run/secrets/"):
            catalog["authelia"]["secrets"].append(value[len("/run/secrets/"):])
    return catalog


LDAP_CATALOG = catalog_with_env(AUTHELIA_AUTHENTICATION_BACKEND_LDAP_PASSWORD_FILE="/run/secrets/authelia_ldap_password",
                                AUTHELIA_NOTIFIER_SMTP_PASSWORD_FILE="/run/secrets/authelia_smtp_password")


def catalog_for(settings):
    return LDAP_CATALOG if settings.get("ldap") or settings.get("smtp") else SEED


# JSON Schema's "email" format is RFC 5321's Mailbox (local-part@domain, no display name); jsonschema's own
# check only looks for an "@", which makes Authelia's sender oneOf [email, "Name <addr>"] match twice.
MAILBOX = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


def validator(shared_dir, name):
    """The schema's own draft (its $schema), with its format checks and a faithful email check."""
    schema = json.loads((shared_dir / "fixtures" / "schemas" / name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    checker = copy.copy(cls.FORMAT_CHECKER)
    checker.checkers = dict(checker.checkers)
    checker.checks("email")(lambda instance: not isinstance(instance, str) or bool(MAILBOX.match(instance)))
    return cls(schema, format_checker=checker)


def test_validators_follow_each_schemas_draft(schemas):
    assert isinstance(schemas["static"], jsonschema.Draft7Validator)
    assert isinstance(schemas["dynamic"], jsonschema.Draft7Validator)
    assert isinstance(schemas["authelia"], jsonschema.Draft202012Validator)
    assert isinstance(schemas["users"], jsonschema.Draft202012Validator)
    assert not schemas["authelia"].is_valid({"notifier": {"smtp": {"sender": "not-an-address"}}})


@pytest.fixture(scope="module")
def schemas(shared_dir):
    return {
        "static": validator(shared_dir, "traefik-v3.json"),
        "dynamic": validator(shared_dir, "traefik-v3-file-provider.json"),
        "authelia": validator(shared_dir, "authelia-v4.39-configuration.json"),
        "users": validator(shared_dir, "authelia-v4.39-user-database.json"),
    }


def assert_valid(validator_, document):
    errors = sorted(validator_.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message) for e in errors)
    # what the role writes is YAML: it must round-trip unchanged
    assert yaml.safe_load(yaml.safe_dump(document)) == document


def problems_of(call):
    with pytest.raises(edge.EdgeError) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert info.value.problems and str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def walk(value, path=""):
    """Every (path, key, leaf) of a document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, "%s.%s" % (path, key) if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, "%s[%d]" % (path, index))
    else:
        yield path, value


SECRET_KEYS = re.compile(r"(^|\.)(password|secret|jwt_secret|encryption_key|token|api_key|private_key|client_secret)$")
HIGH_ENTROPY = re.compile(r"[A-Za-z0-9+/=_-]{24,}")


def secret_looking(path, value):
    if SECRET_KEYS.search(path):
        return True  # no option that holds a secret may be rendered at all
    if not isinstance(value, str):
        return False
    if "-----BEGIN" in value or re.match(r"^\$(argon2|pbkdf2|2[aby]?\$|[56]\$|scrypt|plaintext|base64)", value):
        return True
    for run in HIGH_ENTROPY.findall(value):
        if re.search(r"[a-z]", run) and re.search(r"[A-Z]", run) and re.search(r"[0-9]", run):
            return True
    return False


# --- Traefik static ------------------------------------------------------------------------------------------


class TestTraefikStatic:
    @pytest.mark.parametrize("variant", sorted(SETTINGS_VARIANTS))
    def test_validates_against_the_upstream_schema(self, variant, schemas):
        config = traefik_static_config(SETTINGS_VARIANTS[variant])
        assert_valid(schemas["static"], config)
        assert not [p for p, v in walk(config) if secret_looking(p, v)]

    def test_schema_check_is_live(self, schemas):
        config = traefik_static_config(ACME_DNS)
        config["entryPoints"]["web"]["adress"] = ":80"
        config["api"]["insecure"] = "yes"
        paths = {"/".join(map(str, e.absolute_path)) for e in schemas["static"].iter_errors(config)}
        assert {"entryPoints/web", "api/insecure"} <= paths

    def test_web_redirects_permanently_to_websecure(self):
        eps = traefik_static_config(ACME_HTTP)["entryPoints"]
        assert eps["web"] == {"address": ":80", "http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}}}
        assert eps["websecure"]["address"] == ":443"
        assert eps["websecure"]["asDefault"] is True  # routers without entrypoints never land on web/metrics/traefik
        assert eps["websecure"]["http"]["middlewares"] == ["secure-headers@file"]
        assert eps["websecure"]["transport"]["respondingTimeouts"]["readTimeout"] == "600s"
        assert eps["metrics"] == {"address": ":8082"}
        assert eps["traefik"] == {"address": ":8080"}

    def test_entrypoints_match_the_seed_traefik_service(self):
        eps = traefik_static_config(ACME_HTTP)["entryPoints"]
        published = {p["target"] for p in SEED["traefik"]["ports"]}
        assert published == {int(eps[n]["address"][1:]) for n in ("web", "websecure", "metrics")}
        assert int(eps["metrics"]["address"][1:]) == SEED["traefik"]["metrics"]["port"]
        assert "--ping" in SEED["traefik"]["healthcheck"]["test"]

    def test_api_ping_metrics_log(self):
        config = traefik_static_config(dict(ACME_HTTP, log_level="warn"))
        assert config["api"] == {"dashboard": True}
        assert "insecure" not in config["api"]
        assert config["ping"] == {}  # ping on the 'traefik' entrypoint (its default), which is defined explicitly
        assert config["metrics"]["prometheus"]["entryPoint"] == "metrics"
        assert config["log"]["level"] == "WARN"
        assert config["accessLog"] == {"format": "json"}
        assert config["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}

    def test_providers(self):
        providers = traefik_static_config(ACME_HTTP)["providers"]
        assert providers["swarm"] == {"endpoint": "unix:///var/run/docker.sock", "exposedByDefault": False, "network": "mediastack_dmz", "watch": True}
        assert providers["file"] == {"directory": "/etc/traefik/dynamic", "watch": True}
        assert traefik_static_config(dict(ACME_HTTP, network=None))["providers"]["swarm"]["network"] == "dmz"

    def test_acme_dns(self):
        config = traefik_static_config(ACME_DNS)
        acme = config["certificatesResolvers"]["letsencrypt"]["acme"]
        assert acme == {"email": "admin@example.org", "storage": "/acme/acme.json",
                        "dnsChallenge": {"provider": "cloudflare", "resolvers": ["1.1.1.1:53"]}}
        tls = config["entryPoints"]["websecure"]["http"]["tls"]
        assert tls == {"certResolver": "letsencrypt", "domains": [{"main": DOMAIN, "sans": ["*.%s" % DOMAIN]}]}

    def test_acme_http(self):
        settings = dict(ACME_HTTP, cert_resolver="le", acme=dict(ACME_HTTP["acme"], ca_server="https://acme-staging-v02.api.letsencrypt.org/directory"))
        config = traefik_static_config(settings)
        acme = config["certificatesResolvers"]["le"]["acme"]
        assert acme["httpChallenge"] == {"entryPoint": "web"}
        assert "dnsChallenge" not in acme
        assert acme["caServer"].startswith("https://acme-staging")
        # http-01 cannot issue wildcards: the entrypoint's resolver gets one certificate per router Host rule
        assert config["entryPoints"]["websecure"]["http"]["tls"] == {"certResolver": "le"}

    def test_user_certificates_have_no_resolver(self):
        config = traefik_static_config(USER_CERTS)
        assert "certificatesResolvers" not in config
        assert config["entryPoints"]["websecure"]["http"]["tls"] == {}


# --- Traefik dynamic -----------------------------------------------------------------------------------------


class TestTraefikDynamic:
    @pytest.mark.parametrize("variant", sorted(SETTINGS_VARIANTS))
    def test_validates_against_the_upstream_schema(self, variant, schemas):
        config = traefik_dynamic_config(SETTINGS_VARIANTS[variant])
        assert_valid(schemas["dynamic"], config)
        assert not [p for p, v in walk(config) if secret_looking(p, v)]

    def test_schema_check_is_live(self, schemas):
        config = traefik_dynamic_config(ACME_DNS)
        config["tls"]["options"]["default"]["sniStrict"] = "true"
        assert list(schemas["dynamic"].iter_errors(config))

    def test_tls13_is_the_default_floor(self):
        options = traefik_dynamic_config(ACME_DNS)["tls"]["options"]["default"]
        assert options == {"minVersion": "VersionTLS13", "sniStrict": True}  # TLS 1.3 suites are not configurable

    @pytest.mark.parametrize("version", ["1.2", 1.2])
    def test_tls12_lists_strong_suites_only(self, version):
        options = traefik_dynamic_config(dict(ACME_DNS, tls_min_version=version))["tls"]["options"]["default"]
        assert options["minVersion"] == "VersionTLS12" and options["sniStrict"] is True
        suites = options["cipherSuites"]
        assert suites and all(s.startswith("TLS_ECDHE_") for s in suites)
        assert all(("GCM" in s or "CHACHA20_POLY1305" in s) for s in suites)
        assert not [s for s in suites if "CBC" in s or "RC4" in s or "3DES" in s or s.endswith("_SHA")]

    @pytest.mark.parametrize("version", ["1.3", 1.3])
    def test_tls13_as_string_or_yaml_float(self, version):
        assert traefik_dynamic_config(dict(ACME_DNS, tls_min_version=version))["tls"]["options"]["default"]["minVersion"] == "VersionTLS13"

    def test_user_certificates(self):
        tls = traefik_dynamic_config(USER_CERTS)["tls"]
        assert tls["certificates"] == [{"certFile": "/etc/traefik/certs/media.crt", "keyFile": "/run/secrets/media_key"},
                                       {"certFile": "/etc/traefik/certs/other.crt", "keyFile": "/run/secrets/other_key"}]
        assert tls["stores"]["default"]["defaultCertificate"] == tls["certificates"][0]
        assert "certificates" not in traefik_dynamic_config(ACME_DNS)["tls"]

    def test_secure_headers(self):
        headers = traefik_dynamic_config(ACME_DNS)["http"]["middlewares"]["secure-headers"]["headers"]
        assert headers["stsSeconds"] >= 31536000 and headers["stsIncludeSubdomains"] is True and headers["forceSTSHeader"] is True
        assert headers["stsPreload"] is False  # preload is a commitment the operator makes, not a default
        assert headers["contentTypeNosniff"] is True
        assert headers["customFrameOptionsValue"] == "SAMEORIGIN"
        assert headers["customResponseHeaders"] == {"Server": "", "X-Powered-By": ""}
        # the static config applies the middleware by the name the dynamic config defines
        static = traefik_static_config(ACME_DNS)
        names = traefik_dynamic_config(ACME_DNS)["http"]["middlewares"]
        assert static["entryPoints"]["websecure"]["http"]["middlewares"] == ["%s@file" % name for name in names]


# --- Authelia configuration ----------------------------------------------------------------------------------


def decide(rules, default, host, groups, path="/"):
    """Authelia's first-match evaluation of access_control for a user with ``groups`` asking ``path`` (with its query)."""
    for rule in rules:
        if host not in rule["domain"]:
            continue
        if rule.get("resources") and not any(re.match(r, path) for r in rule["resources"]):
            continue
        subjects = rule.get("subject")
        if subjects and not any(s == "group:%s" % g for s in subjects for g in groups):
            continue
        return rule["policy"]
    return default


class TestAutheliaConfiguration:
    @pytest.mark.parametrize("variant", sorted(SETTINGS_VARIANTS))
    def test_validates_against_the_upstream_schema(self, variant, schemas):
        settings = SETTINGS_VARIANTS[variant]
        config = authelia_configuration(catalog_for(settings), settings)
        assert_valid(schemas["authelia"], config)

    @pytest.mark.parametrize("variant", sorted(SETTINGS_VARIANTS))
    def test_no_secret_is_rendered(self, variant):
        settings = SETTINGS_VARIANTS[variant]
        config = authelia_configuration(catalog_for(settings), settings)
        assert not [p for p, v in walk(config) if secret_looking(p, v)]
        assert "encryption_key" not in config["storage"] and "password" not in config["storage"]["postgres"]
        assert "secret" not in config["session"] and "identity_validation" not in config
        assert "password" not in config["authentication_backend"].get("ldap", {})
        assert "password" not in config["notifier"].get("smtp", {})
        # the one /run/secrets path: the users database, itself a Docker secret (digests), read by the file backend
        backend = config["authentication_backend"]
        assert backend.get("file", {}).get("path", "/run/secrets/authelia_users") == "/run/secrets/authelia_users"
        assert "/run/secrets" not in json.dumps(dict(config, authentication_backend={k: v for k, v in backend.items() if k != "file"}))

    def test_schema_check_is_live(self, schemas):
        config = authelia_configuration(SEED, ACME_DNS)
        config["access_control"]["default_policy"] = "allow"
        config["session"]["cookies"][0]["secure"] = True
        assert len(list(schemas["authelia"].iter_errors(config))) == 2

    def test_portal_session_storage(self):
        config = authelia_configuration(SEED, ACME_DNS)
        assert config["server"] == {"address": "tcp://:%d" % SEED["authelia"]["route"]["port"]}
        assert SEED["authelia"]["forward_auth"]["port"] == SEED["authelia"]["route"]["port"]
        assert config["session"]["cookies"] == [{"domain": DOMAIN, "authelia_url": "https://auth.%s" % DOMAIN,
                                                 "default_redirection_url": "https://%s" % DOMAIN}]
        assert config["session"]["redis"] == {"host": "redis", "port": 6379}
        pg = SEED["authelia"]["dependencies"]["postgres"]
        assert config["storage"] == {"postgres": {"address": "tcp://postgres:5432", "database": pg["database"], "username": pg["user"]}}
        assert config["totp"]["issuer"] == DOMAIN
        assert config["webauthn"]["disable"] is False
        assert config["regulation"] == {"max_retries": 3, "find_time": "2m", "ban_time": "5m"}
        assert config["telemetry"]["metrics"] == {"enabled": True, "address": "tcp://:%d" % SEED["authelia"]["metrics"]["port"]}
        assert config["notifier"] == {"filesystem": {"filename": "/config/notification.txt"}}
        assert config["log"] == {"level": "info", "format": "json"}

    def test_service_names_come_from_the_settings(self):
        catalog = copy.deepcopy(SEED)
        catalog["sessions"] = catalog.pop("redis")
        catalog["authelia"]["dependencies"]["services"] = []
        config = authelia_configuration(catalog, dict(ACME_DNS, redis_service="sessions"))
        assert config["session"]["redis"]["host"] == "sessions"

    def test_rules_are_the_catalog_rules_with_default_deny(self):
        config = authelia_configuration(SEED, ACME_DNS)
        services, problems = parse_catalog(SEED)
        assert not problems
        assert config["access_control"] == {"default_policy": "deny", "rules": authelia_rules(services.values(), DOMAIN)}

    @pytest.mark.parametrize(("host", "groups", "policy"), [
        ("jellyfin", ["media"], "two_factor"), ("jellyfin", ["admins"], "deny"), ("jellyfin", [], "deny"),
        ("music", ["media"], "two_factor"), ("music", ["guests"], "deny"),
        ("audiobooks", ["media"], "two_factor"), ("audiobooks", [], "deny"),
        ("traefik", ["admins"], "two_factor"), ("traefik", ["media"], "deny"),
        ("photos", ["media"], "two_factor"),
        ("auth", [], "bypass"),
        ("postgres", ["admins"], "deny"), ("redis", ["admins"], "deny"), ("unknown", ["admins", "media"], "deny"),
    ])
    def test_forward_auth_decisions_for_the_seed_routes(self, host, groups, policy):
        access = authelia_configuration(SEED, ACME_DNS)["access_control"]
        assert decide(access["rules"], access["default_policy"], "%s.%s" % (host, DOMAIN), groups) == policy

    @pytest.mark.parametrize(("host", "path", "groups", "policy"), [
        # the apps' own clients and API keys pass the portal on their paths; the UI stays behind it
        ("jellyfin", "/Users/AuthenticateByName", [], "bypass"), ("jellyfin", "/web/index.html", [], "deny"),
        ("music", "/rest/ping.view?u=a&t=b", [], "bypass"), ("music", "/restore", [], "deny"),
        ("music", "/app/", ["media"], "two_factor"),
        ("audiobooks", "/api/libraries", [], "bypass"), ("audiobooks", "/apiary", [], "deny"),
    ])
    def test_client_paths_bypass_the_portal_and_nothing_else(self, host, path, groups, policy):
        access = authelia_configuration(SEED, ACME_DNS)["access_control"]
        assert decide(access["rules"], access["default_policy"], "%s.%s" % (host, DOMAIN), groups, path) == policy

    def test_disabled_service_gets_no_rule(self):
        catalog = copy.deepcopy(SEED)
        catalog["immich"]["enabled"] = False
        rules = authelia_configuration(catalog, ACME_DNS)["access_control"]["rules"]
        assert not [r for r in rules if "photos.%s" % DOMAIN in r["domain"]]
        rules = authelia_configuration(SEED, ACME_DNS, ["authelia", "redis", "postgres", "navidrome"])["access_control"]["rules"]
        assert {d for r in rules for d in r["domain"]} == {"auth.%s" % DOMAIN, "music.%s" % DOMAIN}

    def test_standard_password_policy(self):
        policy = authelia_configuration(SEED, ACME_DNS)["password_policy"]
        assert policy == {"standard": {"enabled": True, "min_length": 12, "require_uppercase": True, "require_lowercase": True,
                                       "require_number": True, "require_special": True}}
        assert authelia_configuration(SEED, dict(ACME_DNS, password_min_length=16))["password_policy"]["standard"]["min_length"] == 16

    def test_zxcvbn_password_policy(self):
        policy = authelia_configuration(SEED, dict(ACME_DNS, password_policy="zxcvbn"))["password_policy"]
        assert policy == {"zxcvbn": {"enabled": True, "min_score": 4}}

    def test_file_backend(self):
        backend = authelia_configuration(SEED, ACME_DNS)["authentication_backend"]
        assert backend["file"]["path"] == "/run/secrets/authelia_users"  # a Docker secret, not a config
        assert backend["file"]["password"]["algorithm"] == "argon2"
        assert backend["file"]["password"]["argon2"]["variant"] == "argon2id"
        assert "ldap" not in backend

    def test_ldap_active_directory(self):
        config = authelia_configuration(LDAP_CATALOG, dict(ACME_DNS, ldap=LDAP_AD))
        ldap = config["authentication_backend"]["ldap"]
        assert "file" not in config["authentication_backend"]
        assert ldap == {"implementation": "activedirectory", "address": "ldaps://dc1.example.org", "start_tls": False,
                        "tls": {"minimum_version": "TLS1.2", "server_name": "dc1.example.org"}, "base_dn": "dc=example,dc=org",
                        "user": "cn=authelia,ou=service,dc=example,dc=org", "additional_users_dn": "ou=users", "additional_groups_dn": "ou=groups"}

    def test_ldap_custom_with_start_tls(self):
        ldap = authelia_configuration(LDAP_CATALOG, dict(ACME_DNS, ldap=LDAP_CUSTOM))["authentication_backend"]["ldap"]
        assert ldap["implementation"] == "custom" and ldap["start_tls"] is True and ldap["address"].startswith("ldap://")
        assert ldap["users_filter"] == LDAP_CUSTOM["users_filter"] and ldap["groups_filter"] == LDAP_CUSTOM["groups_filter"]
        assert ldap["attributes"] == {"username": "uid", "mail": "mail"}
        assert ldap["timeout"] == "5s"

    def test_smtp_notifier(self):
        notifier = authelia_configuration(LDAP_CATALOG, dict(ACME_DNS, smtp=SMTP))["notifier"]
        assert notifier == {"smtp": {"address": "submissions://smtp.example.org:465", "sender": "auth@example.org", "username": "auth@example.org",
                                     "tls": {"server_name": "smtp.example.org", "minimum_version": "TLS1.2"}}}
        # a relay without login needs no password secret
        relay = authelia_configuration(SEED, dict(ACME_DNS, smtp={"address": "submission://relay.example.org:587", "sender": "Mediastack <auth@example.org>"}))
        assert relay["notifier"]["smtp"] == {"address": "submission://relay.example.org:587", "sender": "Mediastack <auth@example.org>"}

    def test_default_redirection_url(self):
        url = "https://jellyfin.%s" % DOMAIN
        config = authelia_configuration(SEED, dict(ACME_DNS, default_redirection_url=url))
        assert config["session"]["cookies"][0]["default_redirection_url"] == url


# --- Authelia users ------------------------------------------------------------------------------------------


class TestAutheliaUsers:
    def test_every_digest_kind_validates(self, schemas):
        users = {"u%s" % kind: {"displayname": kind, "password": digest, "email": "%s@example.org" % kind, "groups": ["media"]}
                 for kind, digest in HASHES.items()}
        database = authelia_users_database(users)
        assert_valid(schemas["users"], database)
        assert {name: u["password"] for name, u in database["users"].items()} == {"u%s" % k: v for k, v in HASHES.items()}

    def test_shape_and_defaults(self, schemas):
        database = authelia_users_database({"alice": {"displayname": "Alice", "password": ARGON2, "email": "alice@example.org",
                                                      "groups": ["admins", "media"]},
                                            "bob": {"displayname": "Bob", "password": HASHES["bcrypt"], "email": "bob@example.org", "disabled": True}})
        assert database == {"users": {
            "alice": {"displayname": "Alice", "password": ARGON2, "email": "alice@example.org", "groups": ["admins", "media"], "disabled": False},
            "bob": {"displayname": "Bob", "password": HASHES["bcrypt"], "email": "bob@example.org", "groups": [], "disabled": True},
        }}
        assert_valid(schemas["users"], database)

    def test_sha2crypt_implicit_rounds_are_written_out(self, schemas):
        digest = "$6$saltsalt$Zm9vYmFyLmZvb2Jhci5mb29iYXIuZm9vYmFyLmZvb2Jhci5mb29iYXIuZm9vYmFyLmZvb2Jh"
        database = authelia_users_database({"carol": {"displayname": "Carol", "password": digest, "email": "carol@example.org"}})
        assert database["users"]["carol"]["password"] == digest.replace("$6$", "$6$rounds=5000$", 1)
        assert_valid(schemas["users"], database)
        with pytest.raises(jsonschema.ValidationError):  # what the schema would have refused as given
            schemas["users"].validate({"users": {"carol": {"displayname": "Carol", "password": digest}}})

    def test_plaintext_password_is_refused_and_not_echoed(self):
        users = {"alice": {"displayname": "Alice", "password": PLAINTEXT, "email": "alice@example.org"}}
        problems = problems_of(lambda: edge.authelia_users(users))
        assert len(problems) == 1
        assert problems[0].startswith("authelia_users.alice.password: is not a password hash")
        assert "authelia crypto hash generate argon2" in problems[0]
        assert PLAINTEXT not in problems[0]
        with pytest.raises(AnsibleFilterError) as info:
            authelia_users_database(users)
        assert "alice" in str(info.value) and PLAINTEXT not in str(info.value)

    @pytest.mark.parametrize(("password", "fragment"), [
        ("$plaintext$%s" % PLAINTEXT, "is a plaintext digest, which keeps the password readable"),
        ("$base64$Q29ycmVjdC1Ib3JzZQ==", "is a base64 digest, which keeps the password readable"),
        ("$argon2id$v=19$m=65536$%s" % PLAINTEXT, "is not a well-formed argon2 digest"),
        ("$2b$%s" % PLAINTEXT, "is not a well-formed bcrypt digest"),
        (42, "is missing or not a string (a int)"),
        (None, "is missing or not a string (a NoneType)"),
    ])
    def test_bad_digests(self, password, fragment):
        problems = problems_of(lambda: edge.authelia_users({"alice": {"displayname": "Alice", "password": password, "email": "a@example.org"}}))
        assert problems[0].startswith("authelia_users.alice.password: %s" % fragment), problems
        assert PLAINTEXT not in problems[0] and "authelia crypto hash generate argon2" in problems[0]

    @pytest.mark.parametrize(("users", "expected"), [
        ({}, "authelia_users: a mapping (dict) is not a non-empty mapping of user name"),
        ([], "authelia_users: [] (list) is not a non-empty mapping of user name"),
        ({"al ice": {"displayname": "A", "password": ARGON2, "email": "a@example.org"}},
         "authelia_users.al ice: the user name 'al ice' (str) is not valid"),
        ({"alice": None}, "authelia_users.alice: is empty"),
        ({"alice": {"displayname": "Alice", "passwd": ARGON2, "password": ARGON2, "email": "a@example.org"}},
         "authelia_users.alice.passwd: is not a known user field; did you mean password?"),
        ({"alice": {"displayname": "", "password": ARGON2, "email": "a@example.org"}},
         "authelia_users.alice.displayname: '' (str) is not a name"),
        ({"alice": {"displayname": "Alice", "password": ARGON2}},
         "authelia_users.alice.email: None (NoneType) is not an e-mail address"),
        ({"alice": {"displayname": "Alice", "password": ARGON2, "email": "a@example.org", "groups": "admins"}},
         "authelia_users.alice.groups: 'admins' (str) is not a list"),
        ({"alice": {"displayname": "Alice", "password": ARGON2, "email": "a@example.org", "groups": ["media fans"]}},
         "authelia_users.alice.groups[0]: 'media fans' (str) is not a group name"),
        ({"alice": {"displayname": "Alice", "password": ARGON2, "email": "a@example.org", "disabled": "no"}},
         "authelia_users.alice.disabled: 'no' (str) is not a boolean; use true or false"),
    ])
    def test_bad_users(self, users, expected):
        problems = problems_of(lambda: edge.authelia_users(users))
        assert any(p.startswith(expected) for p in problems), problems

    def test_problems_are_collected_across_users(self):
        problems = problems_of(lambda: edge.authelia_users({
            "alice": {"displayname": "Alice", "password": PLAINTEXT, "email": "alice@example.org"},
            "bob": {"displayname": "Bob", "password": ARGON2, "email": "bob"},
        }))
        assert [p.split(":")[0] for p in problems] == ["authelia_users.alice.password", "authelia_users.bob.email"]


# --- Bad settings --------------------------------------------------------------------------------------------


def with_acme(**acme):
    return dict(BASE, acme=dict({"email": "admin@example.org", "challenge": "dns", "dns_provider": "cloudflare"}, **acme))


BAD_SETTINGS = [
    ("tls-1.1", dict(ACME_DNS, tls_min_version="1.1"), "edge.tls_min_version: '1.1' (str) is not supported; use 1.2 or 1.3"),
    ("tls-float", dict(ACME_DNS, tls_min_version=1.0), "edge.tls_min_version: 1.0 (float) is not supported; use 1.2 or 1.3"),
    ("tls-bool", dict(ACME_DNS, tls_min_version=True), "edge.tls_min_version: True (bool) is not supported; use 1.2 or 1.3"),
    ("typo", dict(ACME_DNS, tls_min_verison="1.3"), "edge.tls_min_verison: is not a known setting; did you mean tls_min_version?"),
    ("unknown", dict(ACME_DNS, colour="blue"), "edge.colour: is not a known setting; use one of acme, authelia_service"),
    ("not-a-mapping", "domain=media.example.org", "edge: 'domain=media.example.org' (str) is not a mapping"),
    ("domain", dict(ACME_DNS, domain="Media Example"), "edge.domain: 'Media Example' (str) is not valid; give a lowercase DNS name"),
    ("network", dict(ACME_DNS, network="my net"), "edge.network: 'my net' (str) is not valid; give the edge overlay network's name"),
    ("resolver-name", dict(ACME_DNS, cert_resolver="lets encrypt"), "edge.cert_resolver: 'lets encrypt' (str) is not valid; give a resolver name"),
    ("log-level", dict(ACME_DNS, log_level="verbose"), "edge.log_level: 'verbose' (str) is not supported; use one of trace, debug, info, warn, error"),
    ("log-level-typo", dict(ACME_DNS, log_level="warning"), "edge.log_level: 'warning' (str) is not supported; did you mean warn?"),
    ("read-timeout", dict(ACME_DNS, read_timeout=600), "edge.read_timeout: 600 (int) is not a duration; give one such as 600s"),
    ("service", dict(ACME_DNS, redis_service="Redis!"), "edge.redis_service: 'Redis!' (str) is not valid; give the catalog's service name"),
    ("policy", dict(ACME_DNS, password_policy="strong"), "edge.password_policy: 'strong' (str) is not supported; use one of standard, zxcvbn"),
    ("min-length", dict(ACME_DNS, password_min_length=6), "edge.password_min_length: 6 (int) is not a length from 8 to 128; use 12 or more"),
    ("min-length-str", dict(ACME_DNS, password_min_length="12"), "edge.password_min_length: '12' (str) is not a length from 8 to 128"),
    ("min-length-zxcvbn", dict(ACME_DNS, password_policy="zxcvbn", password_min_length=14),
     "edge.password_min_length: is set but password_policy is zxcvbn"),
    ("redirect-url", dict(ACME_DNS, default_redirection_url="http://jellyfin.media.example.org"),
     "edge.default_redirection_url: 'http://jellyfin.media.example.org' (str) is not valid; give an https URL under the domain"),
    ("acme-mapping", dict(BASE, acme="letsencrypt"), "edge.acme: 'letsencrypt' (str) is not a mapping; give one such as {email: admin@example.org"),
    ("acme-typo", with_acme(challange="dns"), "edge.acme.challange: is not a known setting; did you mean challenge?"),
    ("acme-email", with_acme(email=42), "edge.acme.email: 42 (int) is not valid; give the ACME account's e-mail address"),
    ("acme-no-email", dict(BASE, acme={"challenge": "http"}), "edge.acme.email: None (NoneType) is not valid"),
    ("acme-challenge", with_acme(challenge="tls"), "edge.acme.challenge: 'tls' (str) is not supported; use one of dns, http"),
    ("acme-challenge-01", with_acme(challenge="dns-01"), "edge.acme.challenge: 'dns-01' (str) is not supported; did you mean dns?"),
    ("acme-no-provider", dict(BASE, acme={"email": "admin@example.org", "challenge": "dns"}),
     "edge.acme.dns_provider: is missing; the dns challenge needs the lego provider code"),
    ("acme-provider", with_acme(dns_provider="Cloud Flare"), "edge.acme.dns_provider: 'Cloud Flare' (str) is not valid; give the lego provider code"),
    ("acme-manual", with_acme(dns_provider="manual"), "edge.acme.dns_provider: 'manual' (str) waits for a person at every renewal"),
    ("acme-http-provider", with_acme(challenge="http"), "edge.acme.dns_provider: 'cloudflare' (str) is set but the challenge is http"),
    ("acme-storage", with_acme(storage="acme.json"), "edge.acme.storage: 'acme.json' (str) is not an absolute path inside the container"),
    ("acme-storage-json", with_acme(storage="/acme/store"), "edge.acme.storage: '/acme/store' (str) is not a .json file"),
    ("acme-ca", with_acme(ca_server="http://ca.example.org/directory"), "edge.acme.ca_server: 'http://ca.example.org/directory' (str) is not valid"),
    ("acme-resolvers", with_acme(resolvers="1.1.1.1"), "edge.acme.resolvers: '1.1.1.1' (str) is not a list"),
    ("acme-resolver", with_acme(resolvers=["1.1.1.1"]), "edge.acme.resolvers[0]: '1.1.1.1' (str) is not valid; give host:port"),
    ("certs-and-acme", dict(ACME_DNS, certificates=USER_CERTS["certificates"]),
     "edge.certificates: is set together with edge.acme; use acme for Let's Encrypt or certificates for your own, not both"),
    ("certs-list", dict(BASE, certificates={"cert_file": "/a.crt", "key_file": "/a.key"}), "edge.certificates: a mapping (dict) is not a non-empty list"),
    ("certs-relative", dict(BASE, certificates=[{"cert_file": "certs/a.crt", "key_file": "/run/secrets/a"}]),
     "edge.certificates[0].cert_file: 'certs/a.crt' (str) is not an absolute path inside the container"),
    ("certs-missing", dict(BASE, certificates=[{"cert_file": "/etc/traefik/certs/a.crt"}]), "edge.certificates[0].key_file: is missing"),
    ("certs-typo", dict(BASE, certificates=[{"cert_file": "/a.crt", "key_file": "/a.key", "cert_fle": "/b"}]),
     "edge.certificates[0].cert_fle: is not a known setting; did you mean cert_file?"),
    ("ldap-clear", dict(ACME_DNS, ldap=dict(LDAP_AD, address="ldap://dc1.example.org")),
     "edge.ldap.address: 'ldap://dc1.example.org' (str) sends the bind password in clear; use ldaps:// or set start_tls: true"),
    ("ldap-address", dict(ACME_DNS, ldap=dict(LDAP_AD, address="dc1.example.org")), "edge.ldap.address: 'dc1.example.org' (str) is not valid; give ldaps://"),
    ("ldap-impl", dict(ACME_DNS, ldap=dict(LDAP_AD, implementation="active_directory")),
     "edge.ldap.implementation: 'active_directory' (str) is not supported; did you mean activedirectory?"),
    ("ldap-base", dict(ACME_DNS, ldap=dict(LDAP_AD, base_dn="example.org")), "edge.ldap.base_dn: 'example.org' (str) is not a distinguished name"),
    ("ldap-user", dict(ACME_DNS, ldap=dict(LDAP_AD, user=None)), "edge.ldap.user: None (NoneType) is not a distinguished name"),
    ("ldap-users-dn", dict(ACME_DNS, ldap=dict(LDAP_AD, additional_users_dn="users")), "edge.ldap.additional_users_dn: 'users' (str) is not a relative"),
    ("ldap-custom-filter", dict(ACME_DNS, ldap=dict(LDAP_CUSTOM, users_filter=None)),
     "edge.ldap.users_filter: is missing; the custom implementation has no default: give one such as (&({username_attribute}={input})"),
    ("ldap-filter", dict(ACME_DNS, ldap=dict(LDAP_CUSTOM, users_filter="(uid=*)")),
     "edge.ldap.users_filter: '(uid=*)' (str) is not an LDAP filter with the {input} placeholder"),
    ("ldap-start-tls", dict(ACME_DNS, ldap=dict(LDAP_CUSTOM, start_tls="yes")), "edge.ldap.start_tls: 'yes' (str) is not a boolean"),
    ("ldap-attr", dict(ACME_DNS, ldap=dict(LDAP_CUSTOM, attributes={"usernme": "uid"})),
     "edge.ldap.attributes.usernme: is not a known setting; did you mean username?"),
    ("ldap-timeout", dict(ACME_DNS, ldap=dict(LDAP_CUSTOM, timeout="5 seconds")), "edge.ldap.timeout: '5 seconds' (str) is not a duration"),
    ("ldap-skip-verify", dict(ACME_DNS, ldap=dict(LDAP_AD, skip_verify=True)), "edge.ldap.skip_verify: is not a known setting"),
    ("smtp-address", dict(ACME_DNS, smtp=dict(SMTP, address="smtp.example.org:25")),
     "edge.smtp.address: 'smtp.example.org:25' (str) is not valid; give submissions://host:465"),
    ("smtp-sender", dict(ACME_DNS, smtp=dict(SMTP, sender="Mediastack")), "edge.smtp.sender: 'Mediastack' (str) is not an e-mail sender"),
    ("smtp-mapping", dict(ACME_DNS, smtp=["smtp.example.org"]), "edge.smtp: ['smtp.example.org'] (list) is not a mapping"),
]


class TestBadSettings:
    @pytest.mark.parametrize(("settings", "expected"), [(s, e) for _unused, s, e in BAD_SETTINGS], ids=[i for i, _s, _e in BAD_SETTINGS])
    def test_message_names_path_value_and_fix(self, settings, expected):
        for call in (lambda: edge.traefik_static(settings), lambda: edge.traefik_dynamic(settings),
                     lambda: edge.authelia_configuration(LDAP_CATALOG, settings)):
            problems = problems_of(call)
            assert any(p.startswith(expected) for p in problems), problems

    @pytest.mark.parametrize("render", [edge.traefik_static, edge.traefik_dynamic])
    def test_traefik_needs_acme_or_certificates(self, render):
        problems = problems_of(lambda: render(BASE))
        assert problems == [problems[0]] and problems[0].startswith("edge: neither acme nor certificates is set")
        assert "acme: {email" in problems[0] and "certificates: [{cert_file, key_file}]" in problems[0]

    def test_every_problem_is_reported_at_once(self):
        settings = dict(BASE, tls_min_version="1.1", log_level="loud", acme={"email": "x", "challenge": "dns"}, extra=1)
        problems = problems_of(lambda: edge.traefik_static(settings))
        assert [p.split(":")[0] for p in problems] == ["edge.extra", "edge.tls_min_version", "edge.log_level", "edge.acme.email", "edge.acme.dns_provider"]

    @pytest.mark.parametrize(("settings", "path", "fix"), [
        (dict(ACME_DNS, ldap=dict(LDAP_AD, password="hunter2-Secret-9")), "edge.ldap.password",
         "create the Docker secret authelia_ldap_password and set AUTHELIA_AUTHENTICATION_BACKEND_LDAP_PASSWORD_FILE=/run/secrets/authelia_ldap_password"),
        (dict(ACME_DNS, smtp=dict(SMTP, password="hunter2-Secret-9")), "edge.smtp.password", "AUTHELIA_NOTIFIER_SMTP_PASSWORD_FILE"),
        (dict(ACME_DNS, jwt_secret="hunter2-Secret-9"), "edge.jwt_secret", "AUTHELIA_IDENTITY_VALIDATION_RESET_PASSWORD_JWT_SECRET_FILE"),
        (dict(ACME_DNS, session_secret="hunter2-Secret-9"), "edge.session_secret", "AUTHELIA_SESSION_SECRET_FILE"),
        (dict(ACME_DNS, storage_encryption_key="hunter2-Secret-9"), "edge.storage_encryption_key", "AUTHELIA_STORAGE_ENCRYPTION_KEY_FILE"),
        (dict(ACME_DNS, postgres_password="hunter2-Secret-9"), "edge.postgres_password", "AUTHELIA_STORAGE_POSTGRES_PASSWORD_FILE"),
        (dict(ACME_DNS, redis_password="hunter2-Secret-9"), "edge.redis_password", "AUTHELIA_SESSION_REDIS_PASSWORD_FILE"),
        (with_acme(cf_dns_api_token="hunter2-Secret-9"), "edge.acme.cf_dns_api_token", "CF_DNS_API_TOKEN_FILE"),
        (dict(ACME_DNS, api_key="hunter2-Secret-9"), "edge.api_key", "*_FILE environment variable"),
        (dict(ACME_DNS, extras={"token": "hunter2-Secret-9"}), "edge.extras.token", "*_FILE environment variable"),
        (dict(BASE, certificates=[{"cert_file": "/a.crt", "key_file": "-----BEGIN PRIVATE KEY-----\nhunter2-Secret-9\n"}]),
         "edge.certificates[0].key_file", "keys and certificates stay in files"),
    ])
    def test_secret_settings_are_refused_without_echo(self, settings, path, fix):
        for call in (lambda: edge.traefik_static(settings), lambda: edge.authelia_configuration(LDAP_CATALOG, settings)):
            problems = problems_of(call)
            mine = [p for p in problems if p.startswith(path + ":")]
            assert len(mine) == 1, problems
            assert "Docker secret" in mine[0] and fix in mine[0] and "value is not shown" in mine[0]
            assert not [p for p in problems if "hunter2" in p]
            # a secret key is not also reported as an unknown setting
            assert not [p for p in problems if p.startswith(path + ":") and "did you mean" in p]

    def test_token_in_an_ordinary_setting_is_not_echoed(self):
        token = "cF8xZ9aB3kLmN0pQrS7tUvWx"
        problems = problems_of(lambda: edge.traefik_static(with_acme(dns_provider=token)))
        assert problems == ["edge.acme.dns_provider: a str of 24 characters (not shown: it looks like a secret) is not valid; "
                            "give the lego provider code, e.g. cloudflare, route53, ovh"]

    def test_known_keys_that_look_like_secrets_are_settings(self):
        settings = dict(USER_CERTS, password_policy="standard", password_min_length=14)
        assert traefik_dynamic_config(settings)["tls"]["certificates"][0]["keyFile"] == "/run/secrets/media_key"


class TestAutheliaCatalogChecks:
    def test_domain_is_required(self):
        settings = dict(ACME_DNS, domain=None)
        assert traefik_static_config(settings)["entryPoints"]["websecure"]["http"]["tls"] == {"certResolver": "letsencrypt"}
        problems = problems_of(lambda: edge.authelia_configuration(SEED, settings))
        assert problems[0].startswith("edge.domain: is missing; Authelia needs the platform domain")

    def test_catalog_must_be_a_mapping(self):
        assert problems_of(lambda: edge.authelia_configuration(["authelia"], ACME_DNS))[0].startswith(
            "catalog: ['authelia'] (list) is not a mapping of service name to description")
        assert problems_of(lambda: edge.authelia_configuration(SEED, ACME_DNS, "authelia"))[0].startswith("enabled: 'authelia' (str) is not a list")

    def test_catalog_problems_are_passed_on(self):
        catalog = copy.deepcopy(SEED)
        catalog["redis"]["image"] = "redis"
        problems = problems_of(lambda: edge.authelia_configuration(catalog, ACME_DNS))
        assert any(p.startswith("catalog: redis: version is missing for image redis") for p in problems), problems

    @pytest.mark.parametrize(("setting", "value", "expected"), [
        ("redis_service", "rediss", "edge.redis_service: 'rediss' (str) names no enabled catalog service (Authelia's session store); "
                                    "enable it or did you mean redis?"),
        ("postgres_service", "pg", "edge.postgres_service: 'pg' (str) names no enabled catalog service (Authelia's storage)"),
        ("authelia_service", "sso", "edge.authelia_service: 'sso' (str) names no enabled catalog service (the SSO portal)"),
    ])
    def test_services_must_exist(self, setting, value, expected):
        problems = problems_of(lambda: edge.authelia_configuration(SEED, dict(ACME_DNS, **{setting: value})))
        assert any(p.startswith(expected) for p in problems), problems

    def test_disabled_dependency_is_missing(self):
        problems = problems_of(lambda: edge.authelia_configuration(SEED, ACME_DNS, ["authelia", "postgres", "jellyfin"]))
        assert any(p.startswith("edge.redis_service: 'redis' (str) names no enabled catalog service") for p in problems), problems

    @pytest.mark.parametrize(("mutate", "expected"), [
        (lambda a: (a.pop("route"), a.pop("auth")), "catalog.authelia.route: is missing; the portal needs a route such as {subdomain: auth, port: 9091}"),
        (lambda a: a["dependencies"].pop("postgres"), "catalog.authelia.dependencies.postgres: is missing"),
        (lambda a: a["dependencies"].update(redis=False), "catalog.authelia.dependencies.redis: is false"),
        (lambda a: a["forward_auth"].update(port=9092), "catalog.authelia.forward_auth.port: 9092 (int) differs from route.port 9091"),
        (lambda a: a["env"].pop("AUTHELIA_SESSION_SECRET_FILE"),
         "catalog.authelia.env.AUTHELIA_SESSION_SECRET_FILE: is missing; Authelia reads session.secret from it: "
         "add AUTHELIA_SESSION_SECRET_FILE: /run/secrets/authelia_session_secret"),
        (lambda a: a["env"].update(AUTHELIA_STORAGE_ENCRYPTION_KEY_FILE="/config/key"),
         "catalog.authelia.env.AUTHELIA_STORAGE_ENCRYPTION_KEY_FILE: '/config/key' (str) is not one of authelia's Docker secrets"),
        (lambda a: a["secrets"].remove("authelia_jwt_secret"),
         "catalog.authelia.env.AUTHELIA_IDENTITY_VALIDATION_RESET_PASSWORD_JWT_SECRET_FILE: '/run/secrets/authelia_jwt_secret' (str) "
         "is not one of authelia's Docker secrets"),
        (lambda a: a["env"].update(AUTHELIA_SESSION_SECRET="hunter2-Secret-9"),
         "catalog.authelia.env.AUTHELIA_SESSION_SECRET: holds a secret in the environment (a str; the value is not shown); "
         "use AUTHELIA_SESSION_SECRET_FILE"),
    ])
    def test_portal_description(self, mutate, expected):
        catalog = copy.deepcopy(SEED)
        mutate(catalog["authelia"])
        problems = problems_of(lambda: edge.authelia_configuration(catalog, ACME_DNS))
        assert any(p.startswith(expected) for p in problems), problems
        assert not [p for p in problems if "hunter2" in p]

    def test_ldap_and_smtp_passwords_need_their_file_variables(self):
        problems = problems_of(lambda: edge.authelia_configuration(SEED, dict(ACME_DNS, ldap=LDAP_AD, smtp=SMTP)))
        assert [p.split(":")[0] for p in problems] == ["catalog.authelia.env.AUTHELIA_AUTHENTICATION_BACKEND_LDAP_PASSWORD_FILE",
                                                       "catalog.authelia.env.AUTHELIA_NOTIFIER_SMTP_PASSWORD_FILE"]
        assert "/run/secrets/authelia_ldap_password" in problems[0]

    @pytest.mark.parametrize(("url", "expected"), [
        ("https://example.com", "edge.default_redirection_url: 'https://example.com' (str) is not under the domain media.example.org"),
        ("https://auth.media.example.org/", "edge.default_redirection_url: 'https://auth.media.example.org/' (str) is the portal itself"),
    ])
    def test_redirection_url(self, url, expected):
        problems = problems_of(lambda: edge.authelia_configuration(SEED, dict(ACME_DNS, default_redirection_url=url)))
        assert problems[0].startswith(expected), problems

    def test_no_routes_no_deny_only_config(self):
        catalog = copy.deepcopy(SEED)
        catalog["authelia"]["route"] = {"subdomain": "auth", "port": 9091}
        services = {k: v for k, v in catalog.items() if k in ("authelia", "redis", "postgres")}
        assert authelia_configuration(services, ACME_DNS)["access_control"]["rules"] == [{"domain": ["auth.%s" % DOMAIN], "policy": "bypass"}]


# --- The filter plugin ---------------------------------------------------------------------------------------


FILTERS = ("traefik_static_config", "traefik_dynamic_config", "authelia_configuration", "authelia_users_database")


class TestFilterPlugin:
    def test_exports_the_four_filters(self):
        exported = edge_config.FilterModule().filters()
        assert sorted(exported) == sorted(FILTERS)
        assert exported["traefik_static_config"](ACME_DNS) == edge.traefik_static(ACME_DNS)
        assert exported["authelia_configuration"](SEED, ACME_DNS) == edge.authelia_configuration(SEED, ACME_DNS)

    @pytest.mark.parametrize("name", FILTERS)
    def test_sidecar_docs(self, name):
        text = (ROOT / "plugins" / "filter" / ("%s.yml" % name)).read_text(encoding="utf-8")
        assert text.startswith("---\n")
        docs = yaml.safe_load(text)
        assert docs["DOCUMENTATION"]["name"] == name
        assert "_input" in docs["DOCUMENTATION"]["options"]
        assert "mediastack.core.%s" % name in docs["EXAMPLES"]
        assert docs["RETURN"]["_value"]["type"] == "dict"

    @pytest.mark.parametrize(("call", "prefix"), [
        (lambda: traefik_static_config(dict(ACME_DNS, tls_min_version="1.1")), "traefik_static_config: edge.tls_min_version"),
        (lambda: traefik_dynamic_config(None), "traefik_dynamic_config: edge: neither acme nor certificates"),
        (lambda: authelia_configuration(SEED, dict(ACME_DNS, log_level=3)), "authelia_configuration: edge.log_level: 3 (int)"),
        (lambda: authelia_users_database({"alice": {}}), "authelia_users_database: authelia_users.alice"),
    ])
    def test_errors_become_filter_errors(self, call, prefix):
        with pytest.raises(AnsibleFilterError) as info:
            call()
        assert str(info.value).startswith(prefix)

    def test_problems_are_joined(self):
        with pytest.raises(AnsibleFilterError) as info:
            traefik_static_config(dict(ACME_DNS, tls_min_version="1.1", log_level="loud"))
        assert "; edge.log_level: 'loud' (str)" in str(info.value)
