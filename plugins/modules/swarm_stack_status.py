#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mediastack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: swarm_stack_status
short_description: Wait for a Swarm stack's services to converge and explain the tasks that do not run
version_added: 0.1.0
description:
  - Reads the services of one stack (label C(com.docker.stack.namespace)), their current tasks and the
    Swarm nodes on a manager, and waits until every service runs its desired number of replicas.
  - A task that does not run is reported with Swarm's own reason and what holds it there. For an
    exclusive generic resource (a GPU reserved as C(NVIDIA-GPU)) the message names the nodes that
    advertise it and the services that already hold it; for placement constraints it lists them; for an
    image that cannot be pulled it names the image and the node.
  - Services listed in O(expect_pending) are reported but do not fail the module (used by drills).
  - The wait ends early when every service that has not converged has nothing running and at least three
    tasks that failed during the wait (a crash loop does not heal by waiting); the report then carries the last log lines.
  - Reads only; it never changes the Swarm.
author:
  - mediastack maintainers (@mediastack)
requirements:
  - the Docker SDK for Python (Debian C(python3-docker)) on the manager it runs on
options:
  stack:
    description:
      - The stack name (as given to C(docker stack deploy) or M(community.docker.docker_stack)).
      - Required unless O(expect_stacks) is given.
    type: str
  services:
    description: Only these services of the stack (short names, without the C(<stack>_) prefix). Default all.
    type: list
    elements: str
    default: []
  wait:
    description: Wait up to O(timeout) seconds for convergence; V(false) reports the current state once.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for every service to converge.
    type: int
    default: 180
  interval:
    description: Seconds between polls.
    type: int
    default: 2
  expect_pending:
    description: Services (short names) that are expected not to run; they are reported and never fail the module.
    type: list
    elements: str
    default: []
  fail_on_problems:
    description: Fail when a service has not converged at the end of the wait.
    type: bool
    default: true
  logs_tail:
    description: Lines of the service's logs added to the report of a service whose tasks fail (0 for none).
    type: int
    default: 5
  expect_stack:
    description:
      - The stack as it is about to be deployed (a compose mapping whose services carry the label
        C(mediastack.stack.sha256), as the filter M(mediastack.core.catalog_stack) renders them).
      - With it the module reports once, never fails, and returns RV(up_to_date); a stack that is not
        deployed yet is not up to date. The services role deploys only stacks that are not up to date.
    type: dict
  expect_stacks:
    description:
      - Many stacks at once, stack name to the stack as about to be deployed (each as in O(expect_stack)).
      - The Swarm's services, tasks and nodes are read once for all of them (one call for a whole catalog instead
        of one per stack); the module reports once, never fails, and returns RV(stacks). Excludes O(stack).
    type: dict
  docker_host:
    description: The Engine API address.
    type: str
    default: unix:///var/run/docker.sock
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; in check mode it reports once without waiting (a check run deployed nothing).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
seealso:
  - module: community.docker.docker_stack
  - module: mediastack.core.gpu_assign
"""

EXAMPLES = r"""
- name: Wait for the jellyfin stack and say why a task does not run
  mediastack.core.swarm_stack_status:
    stack: jellyfin
    timeout: 120
  register: __jellyfin_status

- name: Which stacks of the catalog already run as rendered (one read of the Swarm for all)
  mediastack.core.swarm_stack_status:
    expect_stacks: "{{ rendered_stacks }}"
  register: __current

- name: A second exclusive GPU request is expected to stay pending in this drill
  mediastack.core.swarm_stack_status:
    stack: gpudrill
    expect_pending: [second]
    timeout: 60
"""

RETURN = r"""
services:
  description: Per service (short name) its state.
  returned: always
  type: dict
  sample:
    jellyfin:
      name: jellyfin_jellyfin
      desired: 1
      running: 1
      converged: true
      nodes: [mslab-w1]
      generic_resources: [NVIDIA-GPU=1]
      problems: []
      tasks:
        - {slot: 1, node: mslab-w1, state: running, assigned_generic_resources: [[NVIDIA-GPU, GPU-4f1c...]]}
problems:
  description: One line per service that did not converge (expected-pending ones included), with the reason.
  returned: always
  type: list
  elements: str
  sample:
    - >-
      gpudrill_second: 0/1 running; gpudrill_second: task 1 is pending: no suitable node (insufficient resources on
      5 nodes); it reserves NVIDIA-GPU=1; the nodes that advertise NVIDIA-GPU are mslab-w1 (GPU-4f1c...), and all of
      it is already held by gpudrill_first on mslab-w1 (GPU-4f1c...). ...
up_to_date:
  description:
    - With O(expect_stack), whether the stack already runs as rendered - every service of it exists, carries
      the same C(mediastack.stack.sha256) label and runs the rendered number of replicas. V(false) without O(expect_stack).
  returned: always
  type: bool
stacks:
  description: With O(expect_stacks), per stack its RV(up_to_date) and RV(services). Empty otherwise.
  returned: always
  type: dict
  sample:
    navidrome: {up_to_date: true, services: {navidrome: {name: navidrome_navidrome, desired: 1, running: 1}}}
present_stacks:
  description:
    - With O(expect_stacks), the names of every stack that has a service in the Swarm (the services role removes only
      those of the disabled catalog services, not one absent stack per catalog entry on every run).
  returned: with O(expect_stacks)
  type: list
  elements: str
  sample: [authelia, navidrome, postgres]
waited:
  description: Seconds spent waiting.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.mediastack.core.plugins.module_utils.swarm.engine import docker, engine_client
from ansible_collections.mediastack.core.plugins.module_utils.swarm.stack_status import STACK_LABEL, not_converged, summarise, up_to_date


def read_state(client, stack, only):
    services = client.services(filters={"label": "%s=%s" % (STACK_LABEL, stack)})
    if only:
        names = set(only) | {"%s_%s" % (stack, name) for name in only}
        services = [s for s in services if s.get("Spec", {}).get("Name") in names]
    tasks = []
    for service in services:
        tasks.extend(client.tasks(filters={"service": service["ID"]}))
    return services, tasks, client.nodes()


def read_stacks(client, stacks):
    """Services, tasks and nodes read once; per stack name its (services, tasks), and the names of every stack with a service."""
    services = client.services(filters={"label": STACK_LABEL})
    tasks = client.tasks()
    nodes = client.nodes()
    by_stack = {name: ([], []) for name in stacks}
    ids = {}
    present = set()
    for service in services:
        stack = ((service.get("Spec") or {}).get("Labels") or {}).get(STACK_LABEL)
        if stack:
            present.add(stack)
        if stack in by_stack:
            by_stack[stack][0].append(service)
            ids[service.get("ID")] = stack
    for task in tasks:
        stack = ids.get(task.get("ServiceID"))
        if stack is not None:
            by_stack[stack][1].append(task)
    return by_stack, nodes, sorted(present)


def compare_stacks(module, client, stacks):
    """Exit with, per stack of ``stacks``, whether it runs as rendered (expect_stacks)."""
    try:
        by_stack, nodes, present = read_stacks(client, stacks)
    except docker.errors.APIError as exc:
        module.fail_json(msg="swarm_stack_status: the engine refused the query (is this a Swarm manager?): %s" % to_native(exc))
    result = {}
    for name, stack in stacks.items():
        if not isinstance(stack, dict):
            module.fail_json(msg="swarm_stack_status: expect_stacks.%s must be a rendered stack (a mapping), got %s" % (name, type(stack).__name__))
        summary = summarise(by_stack[name][0], by_stack[name][1], nodes)
        result[name] = {"up_to_date": up_to_date(summary, stack), "services": summary}
    module.exit_json(changed=False, stacks=result, present_stacks=present, services={}, problems=[], waited=0.0, up_to_date=False)


def service_logs(client, name, tail):
    """The last lines the service's tasks wrote (json-file or journald log drivers); [] when unavailable."""
    if tail <= 0:
        return []
    try:
        raw = client.service_logs(name, stdout=True, stderr=True, tail=tail, timestamps=False)
        if not isinstance(raw, (bytes, str)):
            raw = b"".join(raw)
    except Exception:  # pylint: disable=broad-except
        return []
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return [line for line in text.splitlines() if line.strip()][-tail:]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stack=dict(type="str"),
            services=dict(type="list", elements="str", default=[]),
            wait=dict(type="bool", default=True),
            timeout=dict(type="int", default=180),
            interval=dict(type="int", default=2),
            expect_pending=dict(type="list", elements="str", default=[]),
            fail_on_problems=dict(type="bool", default=True),
            docker_host=dict(type="str", default="unix:///var/run/docker.sock"),
            logs_tail=dict(type="int", default=5),
            expect_stack=dict(type="dict"),
            expect_stacks=dict(type="dict"),
        ),
        required_one_of=[("stack", "expect_stacks")],
        mutually_exclusive=[("stack", "expect_stacks")],
        supports_check_mode=True,
    )
    params = module.params
    client = engine_client(module, "swarm_stack_status")

    if params["expect_stacks"] is not None:
        compare_stacks(module, client, params["expect_stacks"])
    start = time.monotonic()
    expect_stack = params["expect_stack"]
    wait = params["wait"] and not module.check_mode and expect_stack is None
    baseline = None
    while True:
        try:
            services, tasks, nodes = read_state(client, params["stack"], params["services"])
        except docker.errors.APIError as exc:
            module.fail_json(msg="swarm_stack_status: the engine refused the query (is this a Swarm manager?): %s" % to_native(exc))
        summary = summarise(services, tasks, nodes)
        missing = [name for name in params["services"] if name not in summary]
        blocking = not_converged(summary, params["expect_pending"])
        settled_pending = all(summary[name]["problems"] for name in params["expect_pending"] if name in summary)
        # A service whose tasks keep failing (3 new failures while we wait, nothing running) will not converge by waiting.
        if baseline is None:
            baseline = {name: set(svc["failed_task_ids"]) for name, svc in summary.items()}
        crashing = [name for name, svc in summary.items()
                    if svc["running"] == 0 and len(set(svc["failed_task_ids"]) - baseline.get(name, set())) >= 3]
        if (not blocking and not missing and settled_pending) or not wait or time.monotonic() - start >= params["timeout"]:
            break
        if blocking and crashing and len(crashing) == len(blocking):
            break
        time.sleep(max(1, params["interval"]))

    waited = round(time.monotonic() - start, 1)
    for name, svc in summary.items():
        if not svc["converged"] and svc["recent_failures"]:
            svc["logs"] = service_logs(client, svc["name"], params["logs_tail"])
    problems = not_converged(summary)
    result = dict(changed=False, services=summary, problems=problems, waited=waited, stack=params["stack"], up_to_date=False, stacks={})
    if expect_stack is not None:
        result["up_to_date"] = up_to_date(summary, expect_stack)
        module.exit_json(**result)
    if not summary:
        module.fail_json(msg="swarm_stack_status: stack %s has no services on this Swarm; deploy it first "
                             "(community.docker.docker_stack) or check the stack name" % params["stack"], **result)
    if missing:
        module.fail_json(msg="swarm_stack_status: stack %s has no service %s (it has %s)"
                             % (params["stack"], ", ".join(missing), ", ".join(sorted(summary))), **result)
    if blocking and params["fail_on_problems"] and not module.check_mode:
        logs = ["%s logs: %s" % (svc["name"], " / ".join(svc["logs"])) for svc in summary.values() if svc.get("logs")]
        module.fail_json(msg="swarm_stack_status: stack %s did not converge (waited %.0f s of %d): %s"
                             % (params["stack"], waited, params["timeout"], " || ".join(blocking + logs)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
