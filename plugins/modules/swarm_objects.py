#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: swarm_objects
short_description: Ensure many versioned Docker configs and secrets on a Swarm in one call
version_added: 0.2.0
description:
  - For each config and secret, makes sure its newest version (C(<name>_v<n>)) holds the given data; a changed value
    creates version C(n+1), so the stacks that read it roll, and the versions beyond O(versions_to_keep) are removed
    (one still in use by a service is kept, with a warning).
  - The same objects, names and labels (C(ansible_key), the sha224 of the data; C(ansible_version)) as
    M(community.docker.docker_config) and M(community.docker.docker_secret) with C(rolling_versions=true), so either
    can take over from the other; but the configs and secrets are listed once for all of them (one call for the
    whole catalog instead of one per object).
  - Each object also carries the label C(mediastack.config=<name>) or C(mediastack.secret=<name>), plus O(labels).
  - The secrets' values are never returned or logged (O(secrets) is C(no_log)).
author:
  - mediastack maintainers (@mediastack)
requirements:
  - the Docker SDK for Python (Debian C(python3-docker)) on the manager it runs on
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Returns the version names a real run would create.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  configs:
    description: Config name to its content (text).
    type: dict
    default: {}
  secrets:
    description: Secret name to its value (text); never logged.
    type: dict
    default: {}
  labels:
    description: Labels every created object carries besides the module's own.
    type: dict
    default: {}
  versions_to_keep:
    description: Versions of each object kept (at least the newest).
    type: int
    default: 5
  docker_host:
    description: The Engine API address.
    type: str
    default: unix:///var/run/docker.sock
seealso:
  - module: community.docker.docker_config
  - module: community.docker.docker_secret
"""

EXAMPLES = r"""
- name: Create the Docker configs and secrets the deployed services read
  mediastack.core.swarm_objects:
    configs:
      traefik_static: "{{ traefik_static_yaml }}"
    secrets:
      authelia_jwt_secret: "{{ vault_authelia_jwt_secret }}"
  register: __objects
  no_log: true
"""

RETURN = r"""
configs:
  description: Per config its newest version's name (the one the stacks read), ID, version and whether it changed.
  returned: always
  type: dict
  sample: {traefik_static: {name: traefik_static_v3, id: 4f1c..., version: 3, changed: false}}
secrets:
  description: Per secret the same (never its value).
  returned: always
  type: dict
changed_configs:
  description: The configs that got a new version (or would, in check mode).
  returned: always
  type: list
  elements: str
changed_secrets:
  description: The secrets that got a new version (or would, in check mode).
  returned: always
  type: list
  elements: str
removed:
  description: The old versions removed.
  returned: always
  type: list
  elements: str
"""

import hashlib
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.mediastack.core.plugins.module_utils.swarm.engine import docker, engine_client


KINDS = {"configs": "config", "secrets": "secret"}


def versions(existing, name):
    """The versions of ``name`` among the listed objects, oldest first: (version, object)."""
    pattern = re.compile(r"^%s_v(\d+)$" % re.escape(name))
    found = []
    for obj in existing:
        spec = obj.get("Spec") or {}
        match = pattern.match(spec.get("Name", ""))
        if not match:
            continue
        try:
            version = int((spec.get("Labels") or {}).get("ansible_version", match.group(1)))
        except ValueError:
            version = int(match.group(1))
        found.append((version, obj))
    return sorted(found, key=lambda pair: pair[0])


def decide(existing, name, data, labels):
    """For one object: (its newest version or None, whether it needs a new version, that version's number, the data key)."""
    found = versions(existing, name)
    key = hashlib.sha224(data).hexdigest()
    if not found:
        return None, True, 1, key
    version, newest = found[-1]
    current = (newest.get("Spec") or {}).get("Labels") or {}
    changed = current.get("ansible_key") != key or any(current.get(k) != v for k, v in labels.items())
    return newest, changed, version + 1, key


def main():
    module = AnsibleModule(
        argument_spec=dict(
            configs=dict(type="dict", default={}),
            secrets=dict(type="dict", default={}, no_log=True),
            labels=dict(type="dict", default={}),
            versions_to_keep=dict(type="int", default=5),
            docker_host=dict(type="str", default="unix:///var/run/docker.sock"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    problems = ["%s.%s: the value must be text, got %s" % (kind, name, type(value).__name__)
                for kind in KINDS for name, value in params[kind].items() if not isinstance(value, str)]
    if problems:
        module.fail_json(msg="swarm_objects: " + "; ".join(problems))
    client = engine_client(module, "swarm_objects")
    try:
        listed = {"configs": client.configs() if params["configs"] else [], "secrets": client.secrets() if params["secrets"] else []}
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="swarm_objects: cannot list the Swarm's configs and secrets at %s (is this a Swarm manager?): %s"
                             % (params["docker_host"], to_native(exc)))

    result = dict(changed=False, configs={}, secrets={}, changed_configs=[], changed_secrets=[], removed=[])
    keep = max(params["versions_to_keep"], 1)
    for kind, single in KINDS.items():
        create = getattr(client, "create_" + single)
        remove = getattr(client, "remove_" + single)
        for name, value in params[kind].items():
            data = to_bytes(value)
            labels = dict(params["labels"], **{"mediastack.%s" % single: name})
            newest, changed, version, key = decide(listed[kind], name, data, labels)
            entry = {"changed": changed}
            if not changed:
                entry.update(name=newest["Spec"]["Name"], id=newest["ID"], version=version - 1)
            else:
                new_name = "%s_v%d" % (name, version)
                entry.update(name=new_name, id=None, version=version)
                if not module.check_mode:
                    try:
                        created = create(new_name, data, labels=dict(labels, ansible_key=key, ansible_version=str(version)))
                    except docker.errors.APIError as exc:
                        module.fail_json(msg="swarm_objects: cannot create the %s %s: %s" % (single, new_name, to_native(exc)), **result)
                    entry["id"] = created.get("ID") if isinstance(created, dict) else created
                    listed[kind].append({"ID": entry["id"], "Spec": {"Name": new_name, "Labels": {"ansible_version": str(version)}}})
                result["changed_" + kind].append(name)
            result[kind][name] = entry
            if module.check_mode:
                continue
            old = versions(listed[kind], name)[:-keep]
            for _version, obj in old:
                try:
                    remove(obj["ID"])
                    result["removed"].append(obj["Spec"]["Name"])
                except docker.errors.APIError as exc:
                    module.warn("swarm_objects: kept the old %s %s: %s" % (single, obj["Spec"]["Name"], to_native(exc)))
    result["changed"] = bool(result["changed_configs"] or result["changed_secrets"] or result["removed"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
