"""backup_plan filter: service descriptions to class → paths, excludes and hooks."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mediastack.core.plugins.filter.backup_plan import FilterModule, backup_plan

SERVICES = [
    {
        "name": "jellyfin",
        "paths": {"config": ["/srv/jellyfin/config"], "metadata": ["/srv/jellyfin/config/metadata"], "media": ["/srv/media/"]},
    },
    {
        "name": "sonarr",
        "paths": {"config": ["/srv/sonarr"]},
        "sqlite": ["/srv/sonarr/sonarr.db"],
    },
    {
        "name": "immich",
        "paths": {"metadata": ["/srv/immich/thumbs"], "media": ["/srv/immich/library"]},
        "databases": ["immich", {"name": "immich_vectors", "port": 5433, "password_file": "/etc/mediastack/pg.pass"}],
    },
]


def test_classes_paths_excludes_and_hooks():
    plan = backup_plan(SERVICES, state_dir="/var/lib/mb", dump_dir="/var/backups/ms", postgres_defaults={"host": "db", "user": "backup"})
    classes = plan["classes"]
    assert list(classes) == ["databases", "config", "metadata", "media"]
    assert classes["config"]["paths"] == ["/srv/jellyfin/config", "/srv/sonarr"]
    # metadata nested in jellyfin's config belongs to metadata only; sonarr's live sqlite is replaced by its quiesced copy
    assert classes["config"]["excludes"] == [
        "/srv/jellyfin/config/metadata", "/srv/sonarr/sonarr.db", "/srv/sonarr/sonarr.db-journal", "/srv/sonarr/sonarr.db-shm",
        "/srv/sonarr/sonarr.db-wal"]
    assert classes["media"]["paths"] == ["/srv/immich/library", "/srv/media"]
    assert classes["metadata"]["services"] == ["jellyfin", "immich"]
    assert classes["databases"]["paths"] == ["/var/backups/ms/postgres", "/var/backups/ms/sqlite"]
    assert classes["databases"]["postgres"] == [
        {"database": "immich", "host": "db", "port": 5432, "user": "backup", "service": "immich",
         "file": "/var/backups/ms/postgres/immich/immich.dump"},
        {"database": "immich_vectors", "host": "db", "port": 5433, "user": "backup", "service": "immich",
         "password_file": "/etc/mediastack/pg.pass", "file": "/var/backups/ms/postgres/immich/immich_vectors.dump"},
    ]
    assert classes["databases"]["sqlite"] == [{"service": "sonarr", "source": "/srv/sonarr/sonarr.db", "dest": "/var/backups/ms/sqlite/sonarr/sonarr.db"}]
    assert classes["config"]["manifest"] == "/var/lib/mb/manifests/config.json"
    assert [server["port"] for server in plan["postgres_servers"]] == [5432, 5433]
    assert plan["postgres_servers"][1]["password_file"] == "/etc/mediastack/pg.pass"


def test_empty_classes_are_left_out_and_filter_is_registered():
    plan = backup_plan([{"name": "calibre", "paths": {"config": ["/srv/calibre"]}}], manifests=False)
    assert list(plan["classes"]) == ["config"]
    assert plan["classes"]["config"]["manifest"] is None
    assert backup_plan(None) == {"classes": {}, "postgres_servers": []}
    assert FilterModule().filters()["backup_plan"] is backup_plan


@pytest.mark.parametrize("services, message", [
    ({"name": "x"}, "must be a list"),
    ([{"paths": {}}], "needs a name"),
    ([{"name": "Bad Name"}], "lowercase"),
    ([{"name": "a"}, {"name": "a"}], "listed twice"),
    ([{"name": "a", "paths": {"cache": ["/x"]}}], "unknown path class(es) cache"),
    ([{"name": "a", "paths": {"config": ["relative/path"]}}], "not an absolute path"),
    ([{"name": "a", "paths": {"config": ["/"]}}], "refusing to back up /"),
    ([{"name": "a", "paths": {"config": ["/srv/a"], "media": ["/srv/a/"]}}], "already in class config"),
    ([{"name": "a", "volumes": []}], "unknown key(s) volumes"),
    ([{"name": "a", "databases": [{"name": "d", "engine": "mysql"}]}], "only postgres"),
    ([{"name": "a", "databases": [{"port": 1}]}], "a database is a name"),
    ([{"name": "a", "paths": {"config": ["/var/backups/mediastack"]}, "databases": ["d"]}], "overlaps"),
    ([{"name": "a", "sqlite": ["/a/x.db", "/b/x.db"]}], "distinct file names"),
])
def test_bad_input_is_refused(services, message):
    with pytest.raises(AnsibleFilterError, match=None) as err:
        backup_plan(services)
    assert message in str(err.value)
    assert str(err.value).startswith("backup_plan: ")
