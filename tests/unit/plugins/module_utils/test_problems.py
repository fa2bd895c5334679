"""module_utils/problems.py: the one input error and the problem collector the catalog and the edge read input with."""
from __future__ import annotations

import re

import pytest

from ansible_collections.mediastack.core.plugins.module_utils.backup.engine import EngineError
from ansible_collections.mediastack.core.plugins.module_utils.backup.manifest import ManifestError
from ansible_collections.mediastack.core.plugins.module_utils.backup.policy import PolicyError
from ansible_collections.mediastack.core.plugins.module_utils.catalog.model import CatalogError
from ansible_collections.mediastack.core.plugins.module_utils.catalog.placement import PlacementError
from ansible_collections.mediastack.core.plugins.module_utils.edge.haproxy import HaproxyConfigError
from ansible_collections.mediastack.core.plugins.module_utils.edge.traefik_authelia import EdgeError
from ansible_collections.mediastack.core.plugins.module_utils.gpu.assign import GpuAssignError
from ansible_collections.mediastack.core.plugins.module_utils.network.netplan import NetPlanError
from ansible_collections.mediastack.core.plugins.module_utils.network.pfsense import PfsenseConfigError
from ansible_collections.mediastack.core.plugins.module_utils.problems import InputError, Problems, did_you_mean, shown

SECRET = "AbCdEfGhIjKlMnOpQrStUv123456"


def test_input_error_joins_its_lines_and_takes_a_single_message():
    many = InputError(["a: first", "b: second"])
    assert str(many) == "a: first\nb: second" and many.problems == ["a: first", "b: second"]
    assert isinstance(many, ValueError)
    one = InputError("just one")
    assert str(one) == "just one" and one.problems == ["just one"]
    assert str(InputError([])) == "" and InputError([]).problems == []


@pytest.mark.parametrize("error", [CatalogError, EdgeError, HaproxyConfigError, PlacementError, NetPlanError, PolicyError,
                                   ManifestError, GpuAssignError, PfsenseConfigError])
def test_every_domain_error_is_an_input_error(error):
    with pytest.raises(InputError) as info:
        raise error(["x: is wrong"])
    assert info.value.__class__ is error and info.value.problems == ["x: is wrong"] and str(info.value) == "x: is wrong"
    single = error("one message")
    assert single.problems == ["one message"] and str(single) == "one message"


def test_engine_error_keeps_its_kind():
    exc = EngineError("locked", "the repository is locked")
    assert isinstance(exc, InputError) and exc.kind == "locked" and exc.message == str(exc) == "the repository is locked"
    assert exc.problems == ["the repository is locked"]


def test_the_domain_errors_stay_distinct():
    """Siblings, not one class: ``except CatalogError`` does not catch an EdgeError."""
    errors = [CatalogError, EdgeError, HaproxyConfigError, PlacementError, NetPlanError, PolicyError, ManifestError, GpuAssignError,
              PfsenseConfigError, EngineError]
    assert not [(a, b) for a in errors for b in errors if a is not b and issubclass(a, b)]


def test_a_line_starts_with_the_subject_or_the_path():
    with_subject = Problems("jellyfin")
    with_subject.bad("ports[0].target", "must be an integer")
    assert with_subject.lines == ["jellyfin: ports[0].target must be an integer"]
    plain = Problems()
    plain.bad("edge.acme.email", "is missing")
    assert plain.lines == ["edge.acme.email: is missing"]
    empty_name = Problems("")
    empty_name.bad("name", "must be lowercase")
    assert empty_name.lines == [": name must be lowercase"]


def test_raise_if_any_raises_the_given_error_only_with_lines():
    check = Problems()
    check.raise_if_any(CatalogError)
    check.bad("platform", "domain is wrong")
    check.extend(["catalog: already whole"])
    with pytest.raises(CatalogError) as info:
        check.raise_if_any(CatalogError)
    assert info.value.problems == ["platform: domain is wrong", "catalog: already whole"]
    with pytest.raises(InputError):
        check.raise_if_any()


def test_a_secret_is_reported_once():
    check = Problems()
    check.secret("edge.api_key", "looks like a secret")
    check.bad("edge.api_key", "is not a known setting")
    check.string(SECRET, "edge.api_key", None, "give a name")
    assert check.lines == ["edge.api_key: looks like a secret"]


def test_shown_hides_what_looks_like_a_secret():
    assert shown("1.1") == "'1.1' (str)" and shown(42) == "42 (int)" and shown(None) == "None (NoneType)"
    assert shown(SECRET) == "a str of %d characters (not shown: it looks like a secret)" % len(SECRET)
    assert "BEGIN" not in shown("-----BEGIN PRIVATE KEY-----")


def test_did_you_mean():
    assert did_you_mean("treafik", ["traefik", "redis"], "known: traefik, redis") == "did you mean traefik?"
    assert did_you_mean("zzz", ["traefik", "redis"], "known: traefik, redis") == "known: traefik, redis"
    assert did_you_mean("zzz", [], "none") == "none"


def test_keys_names_unknown_fields_with_a_hint_and_skips_what_skip_accepts():
    check = Problems("jellyfin")
    check.keys({"imgae": 1, "zzz": 2, "image": 3}, "", ("image", "ports"))
    check.keys({"protcol": "tcp"}, "ports[0]", ("target", "protocol"))
    assert check.lines == ["jellyfin: imgae is not a known field; did you mean image?",
                           "jellyfin: zzz is not a known field; use one of image, ports",
                           "jellyfin: ports[0].protcol is not a known field; did you mean protocol?"]
    settings = Problems()
    settings.keys({"domian": 1, "api_key": 2}, "edge", ("domain",), what="setting", skip=lambda key: key.endswith("key"))
    assert settings.lines == ["edge.domian: is not a known setting; did you mean domain?"]


def test_checks_return_the_good_value():
    check = Problems("svc")
    assert check.mapping({"a": 1}, "m") == {"a": 1} and check.mapping(None, "m") is None
    assert check.seq(("a",), "s") == ["a"] and check.seq(None, "s") == []
    assert check.integer(5, "i", 1, 9) == 5
    assert check.boolean(False, "b") is False and check.boolean(True, "b", "use true or false") is True
    assert check.choice("tcp", "c", ("tcp", "udp")) == "tcp"
    assert check.string("x", "s") == "x" and check.string("ab", "s", re.compile("^a"), "start with a") == "ab"
    assert check.duration("1m30s", "d") == "1m30s" and check.duration("500ms", "d", "5s") == "500ms"
    assert check.absolute("/acme/acme.json", "p", "/acme/acme.json") == "/acme/acme.json"
    assert check.lines == []


def test_catalog_wording_without_an_example_or_fix():
    check = Problems("svc")
    assert check.mapping([1], "route") is None
    assert check.seq("a", "networks") == []
    assert check.integer(True, "replicas", 0, 100) is None
    assert check.boolean("yes", "stateful") is False
    assert check.choice("sctp", "ports[0].protocol", ("tcp", "udp")) is None
    assert check.string("", "forward_auth.path") is None
    assert check.duration("soon", "healthcheck.interval") is None
    assert check.lines == [
        "svc: route must be a mapping, got list",
        "svc: networks must be a list, got 'a'",
        "svc: replicas must be an integer from 0 to 100, got True",
        "svc: stateful must be true or false, got 'yes'",
        "svc: ports[0].protocol is 'sctp'; use one of tcp, udp",
        "svc: forward_auth.path must be a non-empty string, got ''",
        "svc: healthcheck.interval must be a duration such as 30s, 1m30s or 500ms, got 'soon'",
    ]


def test_settings_wording_with_an_example_or_fix():
    check = Problems()
    assert check.mapping("x", "edge.acme", "{email: a@b.org}") is None
    assert check.boolean(1, "edge.ldap.start_tls", "use true or false") is False
    assert check.choice("htp", "edge.acme.challenge", ("dns", "http"), suggest=True) is None
    assert check.choice(3, "edge.log_level", ("info", "debug"), suggest=True) is None
    assert check.string(SECRET, "edge.acme.dns_provider", re.compile("^[a-z]+$"), "give the lego code") is None
    assert check.duration(5, "edge.read_timeout", "600s") is None
    assert check.absolute("/a/../b", "edge.acme.storage", "/acme/acme.json") is None
    assert check.lines == [
        "edge.acme: 'x' (str) is not a mapping; give one such as {email: a@b.org}",
        "edge.ldap.start_tls: 1 (int) is not a boolean; use true or false",
        "edge.acme.challenge: 'htp' (str) is not supported; did you mean http?",
        "edge.log_level: 3 (int) is not supported; use one of info, debug",
        "edge.acme.dns_provider: a str of %d characters (not shown: it looks like a secret) is not valid; give the lego code" % len(SECRET),
        "edge.read_timeout: 5 (int) is not a duration; give one such as 600s",
        "edge.acme.storage: '/a/../b' (str) is not an absolute path inside the container; give one such as /acme/acme.json",
    ]
