# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Docker Engine API client of the Swarm modules (swarm_stack_status, swarm_objects): one import, one error."""
from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_native

try:
    import docker  # Debian python3-docker; community.docker's modules need it on the node as well
    DOCKER_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the target
    docker = None
    DOCKER_IMPORT_ERROR = exc


def engine_client(module, name):
    """docker.APIClient for the module's docker_host option; fails the module (named ``name``) with what to install or check."""
    if docker is None:
        module.fail_json(msg=missing_required_lib("docker (Debian: python3-docker)"), exception=to_native(DOCKER_IMPORT_ERROR))
    try:
        return docker.APIClient(base_url=module.params["docker_host"])
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="%s: cannot reach the Docker engine at %s: %s" % (name, module.params["docker_host"], to_native(exc)))
    return None  # not reached: fail_json exits
