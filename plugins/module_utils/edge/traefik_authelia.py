# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform edge: Traefik v3 and Authelia v4.39 configuration rendered from the edge settings.

``traefik_static`` (the static configuration, ``traefik.yml``), ``traefik_dynamic`` (the file
provider's ``/etc/traefik/dynamic/edge.yml``: TLS options, user certificates, the ``secure-headers``
middleware, the routes of the catalog's node-pinned services), ``authelia_configuration``
(``configuration.yml``, access rules from the service catalog)
and ``authelia_users`` (``users_database.yml``) return plain dicts; ``docs/edge.md`` lists the settings.

Every bad input raises ``EdgeError`` (an ``InputError``, its lines collected by ``problems.Problems``) with one
line per problem, each naming the setting path, the value and its type (never the value of a secret) and the
fix. Secrets never enter the settings or the rendered files: Authelia reads them from ``AUTHELIA_*_FILE``
variables that point at Docker secrets (the catalog sets them), Traefik's DNS provider reads its ``*_FILE``
variables.

Pure computation, no Ansible imports beyond module_utils: the syntax stays Python 3.8 compatible.
"""
from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping

from ansible_collections.mediastack.core.plugins.module_utils.catalog.access import authelia_rules
from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import DOMAIN, GROUP_NAME, SERVICE_NAME, CatalogError, Service
from ansible_collections.mediastack.core.plugins.module_utils.catalog.parse import parse_catalog
from ansible_collections.mediastack.core.plugins.module_utils.catalog.pinned import traefik_routes as pinned_routes
from ansible_collections.mediastack.core.plugins.module_utils.problems import InputError, Problems, did_you_mean, shown

EDGE_DEFAULTS = {
    "domain": "",
    "network": "dmz",
    "cert_resolver": "letsencrypt",
    "acme": None,
    "certificates": None,
    "tls_min_version": "1.3",
    "log_level": "info",
    "read_timeout": "600s",
    "authelia_service": "authelia",
    "redis_service": "redis",
    "postgres_service": "postgres",
    "password_policy": "standard",
    "password_min_length": 12,
    "ldap": None,
    "smtp": None,
    "default_redirection_url": "",
}  # type: t.Dict[str, t.Any]
ACME_DEFAULTS = {"email": None, "challenge": "http", "dns_provider": None, "storage": "/acme/acme.json", "ca_server": None, "resolvers": None}
CERT_KEYS = ("cert_file", "key_file")
LDAP_DEFAULTS = {
    "implementation": "custom", "address": None, "base_dn": None, "user": None, "additional_users_dn": None,
    "additional_groups_dn": None, "users_filter": None, "groups_filter": None, "start_tls": False, "tls_server_name": None,
    "timeout": None, "attributes": None,
}  # type: t.Dict[str, t.Any]
LDAP_IMPLEMENTATIONS = ("custom", "activedirectory", "rfc2307bis", "freeipa", "lldap", "glauth")
LDAP_ATTRIBUTES = ("distinguished_name", "username", "display_name", "mail", "member_of", "group_name")
SMTP_DEFAULTS = {"address": None, "sender": None, "username": None, "identifier": None, "subject": None, "tls_server_name": None}
USER_KEYS = ("displayname", "password", "email", "groups", "disabled")
LOG_LEVELS = ("trace", "debug", "info", "warn", "error")
TLS_VERSIONS = {"1.2": "VersionTLS12", "1.3": "VersionTLS13"}
# ECDHE key exchange with AEAD ciphers only (forward secrecy, no CBC/SHA1); TLS 1.3 suites are not configurable.
TLS12_CIPHER_SUITES = [
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
]
ENTRYPOINT_PORTS = {"web": 80, "websecure": 443, "traefik": 8080, "metrics": 8082}
DOCKER_SOCKET = "unix:///var/run/docker.sock"
DYNAMIC_DIR = "/etc/traefik/dynamic"
# The users database is a Docker secret (password digests stay out of `docker config inspect`).
USERS_FILE = "/run/secrets/authelia_users"
NOTIFICATION_FILE = "/config/notification.txt"
HEADERS_MIDDLEWARE = "secure-headers"
HSTS_SECONDS = 63072000
REDIS_PORT = 6379
POSTGRES_PORT = 5432
HASH_COMMAND = "authelia crypto hash generate argon2"

NETWORK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
RESOLVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
SENDER = re.compile(r"^[^<]+\s<[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+>$")
DNS_PROVIDER = re.compile(r"^[a-z0-9][a-z0-9.-]{1,31}$")
HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$|^\[[0-9A-Fa-f:]+\]:[0-9]{1,5}$")
LDAP_ADDRESS = re.compile(r"^(ldaps?)://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
SMTP_ADDRESS = re.compile(r"^(smtp|submission|submissions)://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
HTTPS_URL = re.compile(r"^https://([a-z0-9.-]+)(:[0-9]{1,5})?(/[^\s]*)?$")
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
# Authelia's PasswordDigest (user-database schema) without its $plaintext$ and $base64$ forms.
PASSWORD_HASH = re.compile(
    r"^\$((argon2(id|i|d)\$v=19\$m=\d+,t=\d+,p=\d+|scrypt\$ln=\d+,r=\d+,p=\d+)\$[a-zA-Z0-9/+]+\$[a-zA-Z0-9/+]+"
    r"|pbkdf2(-sha(224|256|384|512))?\$\d+\$[a-zA-Z0-9/.]+\$[a-zA-Z0-9/.]+"
    r"|bcrypt-sha256\$v=2,t=2b,r=\d+\$[a-zA-Z0-9/.]+\$[a-zA-Z0-9/.]+"
    r"|2(a|b|y)?\$\d+\$[a-zA-Z0-9./]+"
    r"|(5|6)\$rounds=\d+\$[a-zA-Z0-9./]+\$[a-zA-Z0-9./]+)$"
)
SHA2CRYPT_DEFAULT_ROUNDS = re.compile(r"^\$(5|6)\$([a-zA-Z0-9./]{1,16})\$([a-zA-Z0-9./]+)$")
HASH_PREFIXES = (
    ("$argon2", "argon2"), ("$scrypt$", "scrypt"), ("$pbkdf2", "pbkdf2"), ("$bcrypt-sha256$", "bcrypt-sha256"),
    ("$2a$", "bcrypt"), ("$2b$", "bcrypt"), ("$2y$", "bcrypt"), ("$2$", "bcrypt"), ("$5$", "sha256crypt"), ("$6$", "sha512crypt"),
)
# A key that names a secret; the allowed keys that look like one are checked first.
SECRET_KEY = re.compile(r"((^|_)pass($|_)|passw|passphrase|secret|token|api_?key|apikey|private_?key|encryption_?key|credential|hmac|jwt|(^|_)key$)",
                        re.IGNORECASE)
NOT_SECRETS = frozenset(("password_policy", "password_min_length", "key_file"))
# Authelia options that only come from a Docker secret, by the variable that points at it.
AUTHELIA_SECRET_ENV = (
    ("AUTHELIA_IDENTITY_VALIDATION_RESET_PASSWORD_JWT_SECRET_FILE", "identity_validation.reset_password.jwt_secret", "authelia_jwt_secret"),
    ("AUTHELIA_SESSION_SECRET_FILE", "session.secret", "authelia_session_secret"),
    ("AUTHELIA_STORAGE_ENCRYPTION_KEY_FILE", "storage.encryption_key", "authelia_storage_encryption_key"),
    ("AUTHELIA_STORAGE_POSTGRES_PASSWORD_FILE", "storage.postgres.password", "authelia_db_password"),
)
LDAP_PASSWORD_ENV = ("AUTHELIA_AUTHENTICATION_BACKEND_LDAP_PASSWORD_FILE", "authentication_backend.ldap.password", "authelia_ldap_password")
SMTP_PASSWORD_ENV = ("AUTHELIA_NOTIFIER_SMTP_PASSWORD_FILE", "notifier.smtp.password", "authelia_smtp_password")
SECRET_ENV_NAME = re.compile(r"(SECRET|PASSWORD|KEY|TOKEN)")


class EdgeError(InputError):
    """The edge settings, the catalog or the users are unusable; ``problems`` holds one actionable line each."""


def _secret_key(key: t.Any) -> bool:
    return isinstance(key, str) and key not in NOT_SECRETS and bool(SECRET_KEY.search(key))


def _secret_fix(path: str) -> str:
    low = path.lower()
    if low.startswith("edge.ldap."):
        env, secret = LDAP_PASSWORD_ENV[0], LDAP_PASSWORD_ENV[2]
    elif low.startswith("edge.smtp."):
        env, secret = SMTP_PASSWORD_ENV[0], SMTP_PASSWORD_ENV[2]
    elif low.startswith("edge.acme."):
        return ("create a Docker secret for the DNS provider's credential and give the traefik service the provider's *_FILE "
                "variable (e.g. CF_DNS_API_TOKEN_FILE=/run/secrets/traefik_dns_token); lego reads it from there")
    elif "jwt" in low:
        env, secret = AUTHELIA_SECRET_ENV[0][0], AUTHELIA_SECRET_ENV[0][2]
    elif "session" in low:
        env, secret = AUTHELIA_SECRET_ENV[1][0], AUTHELIA_SECRET_ENV[1][2]
    elif "encryption" in low:
        env, secret = AUTHELIA_SECRET_ENV[2][0], AUTHELIA_SECRET_ENV[2][2]
    elif "postgres" in low or "storage" in low or "database" in low:
        env, secret = AUTHELIA_SECRET_ENV[3][0], AUTHELIA_SECRET_ENV[3][2]
    elif "redis" in low:
        env, secret = "AUTHELIA_SESSION_REDIS_PASSWORD_FILE", "authelia_redis_password"
    else:
        return "create a Docker secret and let the service read it through its *_FILE environment variable (/run/secrets/<name>)"
    return "create the Docker secret %s and set %s=/run/secrets/%s in authelia's env" % (secret, env, secret)


def _scan_secrets(check: Problems, value: t.Any, path: str) -> None:
    """Refuse secret-looking keys and PEM blocks anywhere in the settings, without showing their values."""
    if isinstance(value, Mapping):
        for key in sorted(value, key=str):
            sub = "%s.%s" % (path, key)
            if _secret_key(key):
                message = ("looks like a secret (a %s; the value is not shown); secrets never go in the settings or the rendered "
                           "configuration: use a Docker secret: %s" % (type(value[key]).__name__, _secret_fix(sub)))
                check.secret(sub, message)
            else:
                _scan_secrets(check, value[key], sub)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _scan_secrets(check, item, "%s[%d]" % (path, index))
    elif isinstance(value, str) and "-----BEGIN" in value:
        message = ("holds a PEM block (a str; the value is not shown); keys and certificates stay in files: "
                   "use a Docker secret and give its path (e.g. certificates: [{cert_file, key_file}])")
        check.secret(path, message)


def _acme(check: Problems, raw: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    acme = check.mapping(raw, "edge.acme", "{email: admin@example.org, challenge: dns, dns_provider: cloudflare}")
    if acme is None:
        return None
    check.keys(acme, "edge.acme", ACME_DEFAULTS, what="setting", skip=_secret_key)
    out = dict(ACME_DEFAULTS)
    out.update({k: v for k, v in acme.items() if k in ACME_DEFAULTS and v is not None})
    out["email"] = check.string(out["email"], "edge.acme.email", EMAIL, "give the ACME account's e-mail address, e.g. admin@example.org")
    out["challenge"] = check.choice(out["challenge"], "edge.acme.challenge", ("dns", "http"), suggest=True)
    if out["challenge"] == "dns":
        if out["dns_provider"] is None:
            check.bad("edge.acme.dns_provider", "is missing; the dns challenge needs the lego provider code, e.g. cloudflare, route53, ovh")
        else:
            out["dns_provider"] = check.string(out["dns_provider"], "edge.acme.dns_provider", DNS_PROVIDER,
                                               "give the lego provider code, e.g. cloudflare, route53, ovh")
            if out["dns_provider"] == "manual":
                check.bad("edge.acme.dns_provider", "'manual' (str) waits for a person at every renewal; use your DNS host's provider code")
    elif out["dns_provider"] is not None and out["challenge"] == "http":
        check.bad("edge.acme.dns_provider", "%s is set but the challenge is http; set challenge: dns or drop dns_provider" % shown(out["dns_provider"]))
    storage = check.absolute(out["storage"], "edge.acme.storage", "/acme/acme.json")
    if storage is not None and not storage.endswith(".json"):
        check.bad("edge.acme.storage", "%s is not a .json file; Traefik keeps its certificates in one JSON file, e.g. /acme/acme.json" % shown(storage))
    if out["ca_server"] is not None:
        check.string(out["ca_server"], "edge.acme.ca_server", HTTPS_URL,
                     "give the CA's https directory URL, e.g. https://acme-staging-v02.api.letsencrypt.org/directory")
    if out["resolvers"] is not None:
        resolvers = out["resolvers"]
        if out["challenge"] != "dns":
            check.bad("edge.acme.resolvers", "is set but the challenge is %s; resolvers only apply to the dns challenge" % out["challenge"])
        elif isinstance(resolvers, (str, bytes, Mapping)) or not isinstance(resolvers, (list, tuple)) or not resolvers:
            check.bad("edge.acme.resolvers", "%s is not a list; give host:port entries such as [1.1.1.1:53, 9.9.9.9:53]" % shown(resolvers))
        else:
            for index, item in enumerate(resolvers):
                check.string(item, "edge.acme.resolvers[%d]" % index, HOST_PORT, "give host:port, e.g. 1.1.1.1:53")
    return out


def _certificates(check: Problems, raw: t.Any) -> t.Optional[t.List[t.Dict[str, str]]]:
    if raw is None:
        return None
    example = "[{cert_file: /etc/traefik/certs/media.crt, key_file: /run/secrets/media_key}]"
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, (list, tuple)) or not raw:
        check.bad("edge.certificates", "%s is not a non-empty list; give %s" % (shown(raw) if not isinstance(raw, Mapping) else "a mapping (dict)", example))
        return None
    out = []
    for index, item in enumerate(raw):
        path = "edge.certificates[%d]" % index
        cert = check.mapping(item, path, "{cert_file: /etc/traefik/certs/media.crt, key_file: /run/secrets/media_key}")
        if cert is None:
            if item is None:
                check.bad(path, "is empty; give {cert_file, key_file}")
            continue
        check.keys(cert, path, CERT_KEYS, what="setting", skip=_secret_key)
        files = {}
        for key in CERT_KEYS:
            if key not in cert:
                check.bad("%s.%s" % (path, key), "is missing; give the absolute path of the PEM file inside the traefik container")
            else:
                files[key] = check.absolute(cert[key], "%s.%s" % (path, key), "/etc/traefik/certs/media.crt")
        if all(files.get(k) for k in CERT_KEYS):
            out.append({"certFile": files["cert_file"], "keyFile": files["key_file"]})
    return out


def _ldap(check: Problems, raw: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    ldap = check.mapping(raw, "edge.ldap", "{implementation: activedirectory, address: ldaps://dc1.example.org, base_dn: dc=example,dc=org, user: ...}")
    if ldap is None:
        return None
    check.keys(ldap, "edge.ldap", LDAP_DEFAULTS, what="setting", skip=_secret_key)
    out = dict(LDAP_DEFAULTS)
    out.update({k: v for k, v in ldap.items() if k in LDAP_DEFAULTS and v is not None})
    out["implementation"] = check.choice(out["implementation"], "edge.ldap.implementation", LDAP_IMPLEMENTATIONS, suggest=True)
    start_tls = check.boolean(out["start_tls"], "edge.ldap.start_tls", "use true or false")
    address = check.string(out["address"], "edge.ldap.address", LDAP_ADDRESS, "give ldaps://host[:port] (or ldap://host with start_tls: true)")
    if address and address.startswith("ldap://") and not start_tls:
        check.bad("edge.ldap.address", "%s sends the bind password in clear; use ldaps:// or set start_tls: true" % shown(address))
    for key, example in (("base_dn", "dc=example,dc=org"), ("user", "cn=authelia,ou=service,dc=example,dc=org")):
        value = out[key]
        if not isinstance(value, str) or "=" not in value:
            check.bad("edge.ldap.%s" % key, "%s is not a distinguished name; give one such as %s" % (shown(value), example))
    for key in ("additional_users_dn", "additional_groups_dn"):
        if out[key] is not None and (not isinstance(out[key], str) or "=" not in out[key]):
            check.bad("edge.ldap.%s" % key, "%s is not a relative distinguished name; give one such as ou=users" % shown(out[key]))
    for key, example, token in (("users_filter", "(&({username_attribute}={input})(objectClass=person))", "{input}"),
                                ("groups_filter", "(&(member={dn})(objectClass=groupOfNames))", "")):
        value = out[key]
        if value is None:
            if out["implementation"] == "custom":
                check.bad("edge.ldap.%s" % key, "is missing; the custom implementation has no default: give one such as %s" % example)
        elif not isinstance(value, str) or not value.startswith("(") or (token and token not in value):
            check.bad("edge.ldap.%s" % key, "%s is not an LDAP filter%s; give one such as %s"
                      % (shown(value), " with the %s placeholder" % token if token else "", example))
    if out["tls_server_name"] is not None:
        check.string(out["tls_server_name"], "edge.ldap.tls_server_name", DOMAIN, "give the server certificate's DNS name, e.g. dc1.example.org")
    if out["timeout"] is not None:
        check.duration(out["timeout"], "edge.ldap.timeout", "5s")
    if out["attributes"] is not None:
        attributes = check.mapping(out["attributes"], "edge.ldap.attributes", "{username: sAMAccountName, mail: mail}")
        if attributes is not None:
            check.keys(attributes, "edge.ldap.attributes", LDAP_ATTRIBUTES, what="setting", skip=_secret_key)
            for key in sorted(set(attributes) & set(LDAP_ATTRIBUTES)):
                check.string(attributes[key], "edge.ldap.attributes.%s" % key, re.compile(r"^[A-Za-z][A-Za-z0-9-]*$"),
                             "give an LDAP attribute name such as uid")
            out["attributes"] = {k: v for k, v in attributes.items() if k in LDAP_ATTRIBUTES}
    return out


def _smtp(check: Problems, raw: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    smtp = check.mapping(raw, "edge.smtp", "{address: submissions://smtp.example.org:465, sender: 'Mediastack <auth@example.org>'}")
    if smtp is None:
        return None
    check.keys(smtp, "edge.smtp", SMTP_DEFAULTS, what="setting", skip=_secret_key)
    out = dict(SMTP_DEFAULTS)
    out.update({k: v for k, v in smtp.items() if k in SMTP_DEFAULTS and v is not None})
    check.string(out["address"], "edge.smtp.address", SMTP_ADDRESS,
                 "give submissions://host:465 (implicit TLS) or submission://host:587 (STARTTLS, required)")
    sender = out["sender"]
    if not isinstance(sender, str) or not (EMAIL.match(sender) or SENDER.match(sender)):
        check.bad("edge.smtp.sender", "%s is not an e-mail sender; give auth@example.org or 'Mediastack <auth@example.org>'" % shown(sender))
    for key in ("username", "identifier", "subject"):
        if out[key] is not None and (not isinstance(out[key], str) or not out[key]):
            check.bad("edge.smtp.%s" % key, "%s is not a non-empty string" % shown(out[key]))
    if out["tls_server_name"] is not None:
        check.string(out["tls_server_name"], "edge.smtp.tls_server_name", DOMAIN, "give the server certificate's DNS name, e.g. smtp.example.org")
    return out


def edge_settings(settings: t.Any) -> t.Dict[str, t.Any]:
    """The edge settings with defaults; every problem (unknown keys, secrets, bad values) raises ``EdgeError``."""
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise EdgeError(["edge: %s is not a mapping; give the settings such as {domain: media.example.org, acme: {email: admin@example.org}}"
                         % shown(settings)])
    check = Problems()
    _scan_secrets(check, settings, "edge")
    check.keys(settings, "edge", EDGE_DEFAULTS, what="setting", skip=_secret_key)
    out = dict(EDGE_DEFAULTS)
    out.update({k: v for k, v in settings.items() if k in EDGE_DEFAULTS and v is not None})
    if out["domain"]:
        check.string(out["domain"], "edge.domain", DOMAIN, "give a lowercase DNS name such as media.example.org")
    check.string(out["network"], "edge.network", NETWORK_NAME, "give the edge overlay network's name, e.g. dmz or mediastack_dmz")
    check.string(out["cert_resolver"], "edge.cert_resolver", RESOLVER_NAME,
                 "give a resolver name (letters, digits, - and _), the platform's cert_resolver, e.g. letsencrypt")
    version = out["tls_min_version"]
    text = str(version) if isinstance(version, float) else version
    if isinstance(version, bool) or not isinstance(version, (str, float)) or text not in TLS_VERSIONS:
        check.bad("edge.tls_min_version", "%s is not supported; use 1.2 or 1.3" % shown(version))
    else:
        out["tls_min_version"] = text
    level = out["log_level"]
    out["log_level"] = check.choice(level.lower() if isinstance(level, str) else level, "edge.log_level", LOG_LEVELS, suggest=True) or "info"
    check.duration(out["read_timeout"], "edge.read_timeout", "600s (Immich uploads need minutes) or 10m")
    for key in ("authelia_service", "redis_service", "postgres_service"):
        check.string(out[key], "edge.%s" % key, SERVICE_NAME, "give the catalog's service name, e.g. %s" % EDGE_DEFAULTS[key])
    check.choice(out["password_policy"], "edge.password_policy", ("standard", "zxcvbn"), suggest=True)
    length = out["password_min_length"]
    if isinstance(length, bool) or not isinstance(length, int) or not 8 <= length <= 128:
        check.bad("edge.password_min_length", "%s is not a length from 8 to 128; use 12 or more" % shown(length))
    elif out["password_policy"] == "zxcvbn" and "password_min_length" in settings:
        check.bad("edge.password_min_length", "is set but password_policy is zxcvbn, which scores strength instead; drop it or use the standard policy")
    out["acme"] = _acme(check, out["acme"])
    out["certificates"] = _certificates(check, out["certificates"])
    if settings.get("acme") is not None and settings.get("certificates") is not None:
        check.bad("edge.certificates", "is set together with edge.acme; use acme for Let's Encrypt or certificates for your own, not both")
    out["ldap"] = _ldap(check, out["ldap"])
    out["smtp"] = _smtp(check, out["smtp"])
    if out["default_redirection_url"]:
        check.string(out["default_redirection_url"], "edge.default_redirection_url", HTTPS_URL,
                     "give an https URL under the domain, e.g. https://jellyfin.media.example.org")
    check.raise_if_any(EdgeError)
    return out


def _need_certificates(settings: t.Dict[str, t.Any]) -> None:
    if not settings["acme"] and not settings["certificates"]:
        raise EdgeError(["edge: neither acme nor certificates is set, and strict SNI refuses Traefik's self-signed default; set "
                         "acme: {email: admin@example.org, challenge: dns, dns_provider: cloudflare} for Let's Encrypt or "
                         "certificates: [{cert_file, key_file}] for your own"])


def traefik_static(settings: t.Any) -> t.Dict[str, t.Any]:
    """Traefik v3 static configuration (``traefik.yml``) from the edge settings."""
    s = edge_settings(settings)
    _need_certificates(s)
    tls = {}  # type: t.Dict[str, t.Any]
    acme = s["acme"]
    if acme:
        tls["certResolver"] = s["cert_resolver"]
        if acme["challenge"] == "dns" and s["domain"]:
            tls["domains"] = [{"main": s["domain"], "sans": ["*.%s" % s["domain"]]}]
    entry_points = {
        "web": {
            "address": ":%d" % ENTRYPOINT_PORTS["web"],
            "http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}},
        },
        "websecure": {
            "address": ":%d" % ENTRYPOINT_PORTS["websecure"],
            "asDefault": True,
            "http": {"tls": tls, "middlewares": ["%s@file" % HEADERS_MIDDLEWARE]},
            "transport": {"respondingTimeouts": {"readTimeout": s["read_timeout"]}},
        },
        "traefik": {"address": ":%d" % ENTRYPOINT_PORTS["traefik"]},
        "metrics": {"address": ":%d" % ENTRYPOINT_PORTS["metrics"]},
    }
    config = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "log": {"level": s["log_level"].upper(), "format": "json"},
        "accessLog": {"format": "json"},
        "api": {"dashboard": True},
        "ping": {},
        "entryPoints": entry_points,
        "providers": {
            "swarm": {"endpoint": DOCKER_SOCKET, "exposedByDefault": False, "network": s["network"], "watch": True},
            "file": {"directory": DYNAMIC_DIR, "watch": True},
        },
        "metrics": {"prometheus": {"entryPoint": "metrics", "addEntryPointsLabels": True, "addRoutersLabels": True, "addServicesLabels": True}},
    }  # type: t.Dict[str, t.Any]
    if acme:
        resolver = {"email": acme["email"], "storage": acme["storage"]}  # type: t.Dict[str, t.Any]
        if acme["ca_server"]:
            resolver["caServer"] = acme["ca_server"]
        if acme["challenge"] == "dns":
            challenge = {"provider": acme["dns_provider"]}  # type: t.Dict[str, t.Any]
            if acme["resolvers"]:
                challenge["resolvers"] = list(acme["resolvers"])
            resolver["dnsChallenge"] = challenge
        else:
            resolver["httpChallenge"] = {"entryPoint": "web"}
        config["certificatesResolvers"] = {s["cert_resolver"]: {"acme": resolver}}
    return config


def traefik_dynamic(settings: t.Any, catalog: t.Any = None, platform: t.Optional[t.Mapping[str, t.Any]] = None,
                    enabled: t.Optional[t.Sequence[str]] = None) -> t.Dict[str, t.Any]:
    """The file provider's dynamic configuration: default TLS options, user certificates, secure headers; with the
    ``catalog``, also the routes of its enabled node-pinned (QuickSync) services, which the swarm provider cannot see
    (``catalog/pinned.py``; ``platform`` as for the stacks, whose labels route every other service)."""
    s = edge_settings(settings)
    _need_certificates(s)
    options = {"minVersion": TLS_VERSIONS[s["tls_min_version"]], "sniStrict": True}  # type: t.Dict[str, t.Any]
    if s["tls_min_version"] == "1.2":
        options["cipherSuites"] = list(TLS12_CIPHER_SUITES)
    tls = {"options": {"default": options}}  # type: t.Dict[str, t.Any]
    if s["certificates"]:
        tls["certificates"] = [dict(c) for c in s["certificates"]]
        tls["stores"] = {"default": {"defaultCertificate": dict(s["certificates"][0])}}
    headers = {
        "stsSeconds": HSTS_SECONDS,
        "stsIncludeSubdomains": True,
        "stsPreload": False,
        "forceSTSHeader": True,
        "contentTypeNosniff": True,
        "customFrameOptionsValue": "SAMEORIGIN",
        "referrerPolicy": "strict-origin-when-cross-origin",
        "permissionsPolicy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        "customResponseHeaders": {"Server": "", "X-Powered-By": ""},
    }
    http = {"middlewares": {HEADERS_MIDDLEWARE: {"headers": headers}}}  # type: t.Dict[str, t.Any]
    if catalog is not None:
        services = _enabled_catalog(catalog, enabled)
        try:
            routes = pinned_routes(services.values(), platform)
        except CatalogError as exc:
            raise EdgeError(["catalog: %s" % p for p in exc.problems]) from exc
        for key in ("routers", "services"):
            if routes[key]:
                http[key] = routes[key]
        http["middlewares"].update(routes["middlewares"])
    return {"tls": tls, "http": http}


def _enabled_catalog(catalog: t.Any, enabled: t.Optional[t.Sequence[str]]) -> t.Dict[str, Service]:
    if not isinstance(catalog, Mapping):
        raise EdgeError(["catalog: %s is not a mapping of service name to description (see roles/services/files/catalog-seed.yml)" % shown(catalog)])
    if enabled is not None:
        if isinstance(enabled, (str, bytes, Mapping)) or not isinstance(enabled, (list, tuple)):
            raise EdgeError(["enabled: %s is not a list of service names" % shown(enabled)])
        raw = {k: v for k, v in catalog.items() if k in enabled}
    else:
        raw = {k: v for k, v in catalog.items() if not (isinstance(v, Mapping) and v.get("enabled") is False)}
    try:
        services, problems = parse_catalog(raw)
    except CatalogError as exc:
        raise EdgeError(exc.problems) from exc
    if problems:
        raise EdgeError(["catalog: %s" % p for p in problems])
    return services


def _service(check: Problems, services: t.Dict[str, Service], setting: str, name: str, role: str) -> t.Optional[Service]:
    svc = services.get(name)
    if svc is None:
        fix = did_you_mean(name, services, "known services: %s" % ", ".join(sorted(services)))
        check.bad("edge.%s" % setting, "%s names no enabled catalog service (%s); enable it or %s" % (shown(name), role, fix))
    return svc


def _secret_env(check: Problems, svc: Service, wanted: t.Sequence[t.Tuple[str, str, str]]) -> None:
    """Authelia reads every secret from a ``*_FILE`` variable that points at one of its Docker secrets."""
    path = "catalog.%s.env" % svc.name
    secrets = svc.required_secrets()
    for env in sorted(svc.env):
        if env.startswith("AUTHELIA_") and SECRET_ENV_NAME.search(env) and not env.endswith("_FILE"):
            check.bad("%s.%s" % (path, env), "holds a secret in the environment (a str; the value is not shown); use %s_FILE pointing at "
                                             "a Docker secret (/run/secrets/<name>) instead" % env)
    for env, option, secret in wanted:
        value = svc.env.get(env)
        if value is None:
            check.bad("%s.%s" % (path, env), "is missing; Authelia reads %s from it: add %s: /run/secrets/%s and the Docker secret %s to %s's secrets"
                      % (option, env, secret, secret, svc.name))
        elif not value.startswith("/run/secrets/") or value[len("/run/secrets/"):] not in secrets:
            check.bad("%s.%s" % (path, env), "%s is not one of %s's Docker secrets (%s); point it at /run/secrets/<secret> and list the secret"
                      % (shown(value), svc.name, ", ".join(secrets) or "none"))


def authelia_configuration(catalog: t.Any, settings: t.Any, enabled: t.Optional[t.Sequence[str]] = None) -> t.Dict[str, t.Any]:
    """Authelia 4.39 ``configuration.yml``: portal, 2FA, password policy, backend, session, storage, notifier, access rules."""
    s = edge_settings(settings)
    services = _enabled_catalog(catalog, enabled)
    check = Problems()
    domain = s["domain"]
    if not domain:
        check.bad("edge.domain", "is missing; Authelia needs the platform domain for its cookie and portal URL, e.g. media.example.org")
    svc = _service(check, services, "authelia_service", s["authelia_service"], "the SSO portal")
    redis = _service(check, services, "redis_service", s["redis_service"], "Authelia's session store")
    postgres = _service(check, services, "postgres_service", s["postgres_service"], "Authelia's storage")
    if check.lines or svc is None or redis is None or postgres is None:
        raise EdgeError(check.lines)
    base = "catalog.%s" % svc.name
    if svc.route is None:
        check.bad(base + ".route", "is missing; the portal needs a route such as {subdomain: auth, port: 9091}")
    if svc.postgres is None:
        check.bad(base + ".dependencies.postgres", "is missing; Authelia's storage needs {database: authelia, user: authelia}")
    if not svc.redis:
        check.bad(base + ".dependencies.redis", "is false; Authelia keeps its sessions in redis: set dependencies: {redis: true}")
    port = svc.route.port if svc.route else 9091
    if svc.forward_auth and svc.forward_auth.get("port") != port:
        check.bad(base + ".forward_auth.port", "%s differs from route.port %d; Authelia listens on one port (server.address): use %d"
                  % (shown(svc.forward_auth.get("port")), port, port))
    wanted = list(AUTHELIA_SECRET_ENV)
    if s["ldap"]:
        wanted.append(LDAP_PASSWORD_ENV)
    if s["smtp"] and s["smtp"]["username"]:
        wanted.append(SMTP_PASSWORD_ENV)
    _secret_env(check, svc, wanted)
    portal = "https://%s.%s" % (svc.route.subdomain if svc.route else "auth", domain)
    landing = s["default_redirection_url"] or "https://%s" % domain
    match = HTTPS_URL.match(landing)
    host = match.group(1) if match else ""
    if host != domain and not host.endswith("." + domain):
        check.bad("edge.default_redirection_url", "%s is not under the domain %s; Authelia only redirects within its cookie domain, "
                                                  "e.g. https://jellyfin.%s" % (shown(landing), domain, domain))
    elif landing.rstrip("/") == portal:
        check.bad("edge.default_redirection_url", "%s is the portal itself; give the page users land on after login, e.g. https://jellyfin.%s"
                  % (shown(landing), domain))
    rules = []  # type: t.List[t.Dict[str, t.Any]]
    try:
        rules = authelia_rules(services.values(), domain)
    except CatalogError as exc:
        check.extend(exc.problems)
    if not rules and not check.lines:
        check.bad("catalog", "no enabled service has a route, and Authelia refuses default_policy deny without rules; route at least one service")
    check.raise_if_any(EdgeError)
    config = {
        "theme": "auto",
        "server": {"address": "tcp://:%d" % port},
        "log": {"level": s["log_level"], "format": "json"},
        "totp": {"issuer": domain, "algorithm": "SHA1", "digits": 6, "period": 30, "skew": 1, "secret_size": 32},
        "webauthn": {"disable": False, "display_name": domain, "attestation_conveyance_preference": "indirect", "timeout": "60s"},
        "password_policy": _password_policy(s),
        "authentication_backend": _backend(s),
        "session": {
            "cookies": [{"domain": domain, "authelia_url": portal, "default_redirection_url": landing}],
            "redis": {"host": redis.name, "port": REDIS_PORT},
        },
        "storage": {"postgres": {"address": "tcp://%s:%d" % (postgres.name, POSTGRES_PORT), "database": svc.postgres.database,
                                 "username": svc.postgres.user}},
        "notifier": _notifier(s),
        "access_control": {"default_policy": "deny", "rules": rules},
        "regulation": {"max_retries": 3, "find_time": "2m", "ban_time": "5m"},
    }  # type: t.Dict[str, t.Any]
    if svc.metrics and svc.metrics.get("port"):
        config["telemetry"] = {"metrics": {"enabled": True, "address": "tcp://:%d" % svc.metrics["port"]}}
    return config


def _password_policy(s: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    if s["password_policy"] == "zxcvbn":
        return {"zxcvbn": {"enabled": True, "min_score": 4}}
    return {"standard": {"enabled": True, "min_length": s["password_min_length"], "require_uppercase": True,
                         "require_lowercase": True, "require_number": True, "require_special": True}}


def _backend(s: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    ldap = s["ldap"]
    if not ldap:
        argon2 = {"variant": "argon2id", "iterations": 3, "memory": 65536, "parallelism": 4, "key_length": 32, "salt_length": 16}
        # The users database is a read-only Docker secret rendered from the inventory (services_authelia_users, in
        # the vault): users change passwords there, so Authelia's own reset, which would write the file, is off.
        return {"file": {"path": USERS_FILE, "watch": False, "password": {"algorithm": "argon2", "argon2": argon2}},
                "password_reset": {"disable": True}}
    out = {"implementation": ldap["implementation"], "address": ldap["address"], "start_tls": ldap["start_tls"],
           "tls": {"minimum_version": "TLS1.2"}, "base_dn": ldap["base_dn"], "user": ldap["user"]}  # type: t.Dict[str, t.Any]
    if ldap["tls_server_name"]:
        out["tls"]["server_name"] = ldap["tls_server_name"]
    for key in ("additional_users_dn", "additional_groups_dn", "users_filter", "groups_filter", "timeout"):
        if ldap[key] is not None:
            out[key] = ldap[key]
    if ldap["attributes"]:
        out["attributes"] = dict(ldap["attributes"])
    return {"ldap": out}


def _notifier(s: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    smtp = s["smtp"]
    if not smtp:
        return {"filesystem": {"filename": NOTIFICATION_FILE}}
    out = {"address": smtp["address"], "sender": smtp["sender"]}  # type: t.Dict[str, t.Any]
    for key in ("username", "identifier", "subject"):
        if smtp[key]:
            out[key] = smtp[key]
    if smtp["tls_server_name"]:
        out["tls"] = {"server_name": smtp["tls_server_name"], "minimum_version": "TLS1.2"}
    return {"smtp": out}


def _digest(check: Problems, value: t.Any, path: str) -> t.Optional[str]:
    """A password digest for the users database; a plaintext value is refused without being shown."""
    fix = ("hash it with `%s` (docker run --rm authelia/authelia:4.39 %s --password ...) and store the $argon2id$... digest, "
           "in Ansible Vault" % (HASH_COMMAND, HASH_COMMAND))
    if not isinstance(value, str) or not value:
        check.bad(path, "is missing or not a string (a %s); %s" % (type(value).__name__, fix))
        return None
    if value.startswith("$plaintext$") or value.startswith("$base64$"):
        check.bad(path, "is a %s digest, which keeps the password readable (a str; the value is not shown); %s"
                  % (value.split("$")[1], fix))
        return None
    legacy = SHA2CRYPT_DEFAULT_ROUNDS.match(value)
    if legacy:  # crypt's implicit rounds are 5000; the schema wants them written out (same digest)
        value = "$%s$rounds=5000$%s$%s" % legacy.groups()
    if PASSWORD_HASH.match(value):
        return value
    for prefix, algorithm in HASH_PREFIXES:
        if value.startswith(prefix):
            check.bad(path, "is not a well-formed %s digest (a str; the value is not shown); %s" % (algorithm, fix))
            return None
    check.bad(path, "is not a password hash (a plaintext str? the value is not shown); Authelia's users database takes digests only: %s" % fix)
    return None


def authelia_users(users: t.Any) -> t.Dict[str, t.Any]:
    """Authelia's file users database ``{users: {name: {displayname, password, email, groups, disabled}}}``."""
    if not isinstance(users, Mapping) or not users:
        raise EdgeError(["authelia_users: %s is not a non-empty mapping of user name to {displayname, password, email, groups}; "
                         "add at least one user (an admin in the admins group)" % ("a mapping (dict)" if isinstance(users, Mapping) else shown(users))])
    check = Problems()
    out = {}  # type: t.Dict[str, t.Any]
    for name in sorted(users, key=str):
        path = "authelia_users.%s" % name
        if not isinstance(name, str) or not USER_NAME.match(name):
            check.bad(path, "the user name %s is not valid; use letters, digits, ., _, @ and -" % shown(name))
            continue
        user = check.mapping(users[name], path, "{displayname: Alice, password: $argon2id$..., email: alice@example.org, groups: [media]}")
        if user is None:
            check.bad(path, "is empty; give {displayname, password, email, groups}")
            continue
        check.keys(user, path, USER_KEYS, what="user field")
        password = _digest(check, user.get("password"), path + ".password")
        display = user.get("displayname")
        if not isinstance(display, str) or not display.strip():
            check.bad(path + ".displayname", "%s is not a name; give the name shown in the portal, e.g. %s" % (shown(display), name.title()))
        email = user.get("email")
        if not isinstance(email, str) or not EMAIL.match(email):
            check.bad(path + ".email", "%s is not an e-mail address; Authelia sends identity checks (2FA registration, resets) there, e.g. %s@example.org"
                      % (shown(email), name))
        groups = user.get("groups") or []
        if isinstance(groups, (str, bytes, Mapping)) or not isinstance(groups, (list, tuple)):
            check.bad(path + ".groups", "%s is not a list; give group names such as [admins, media]" % shown(groups))
            groups = []
        for index, group in enumerate(groups):
            if not isinstance(group, str) or not GROUP_NAME.match(group):
                check.bad("%s.groups[%d]" % (path, index), "%s is not a group name (no spaces or colons)" % shown(group))
        disabled = check.boolean(user.get("disabled", False), path + ".disabled", "use true or false")
        out[name] = {"displayname": display, "password": password, "email": email, "groups": [str(g) for g in groups], "disabled": disabled}
    check.raise_if_any(EdgeError)
    return {"users": out}
