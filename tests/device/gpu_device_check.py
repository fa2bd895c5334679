"""Run the GPU module code against the real NVML of this machine; print facts and assignments.

For a machine with a real NVIDIA GPU (never CI). It needs only Python 3.8+, this checkout and
``pynvml`` (nvidia-ml-py) on PYTHONPATH; run_gpu_module.sh provides that from a carried wheel.
It imports the collection's module_utils (the code gpu_info and gpu_assign run) and checks what a
correct module must say on the card it finds:

* every GPU: UUID, name and memory present; NVENC implies at least H.264;
* an H100/H200 (datacenter Hopper): NVENC absent, NVDEC present; the seed's transcoding request
  refused with "NVDEC only"; ML assigned.

Exit status: 0 all checks passed, 1 a check failed, 2 no usable GPU (unless --allow-no-gpu).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[2]
SEED = {"jellyfin": {"gpu": 0, "profiles": ["h264", "h265", "av1"]}, "immich": {"gpu": 1, "profiles": ["ml"]}}
DATACENTER_NO_NVENC = re.compile(r"\b(H100|H200|H800|GH200|A100|A30)\b")


def import_collection() -> Any:
    """Make this checkout importable as ansible_collections.mediastack.core (a symlink in a temp dir)."""
    base = Path(tempfile.mkdtemp(prefix="mediastack-device-"))
    (base / "ansible_collections" / "mediastack").mkdir(parents=True)
    os.symlink(ROOT, base / "ansible_collections" / "mediastack" / "core")
    sys.path.insert(0, str(base))
    from ansible_collections.mediastack.core.plugins.module_utils.gpu import assign as gpu_assign, nvml  # pylint: disable=import-outside-toplevel

    return nvml, gpu_assign


def show(title: str, payload: Any) -> None:
    print("=== %s ===" % title)
    print(json.dumps(payload, indent=2, sort_keys=False))
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allow-no-gpu", action="store_true", help="exit 0 when NVML is unusable or sees no GPU")
    args = parser.parse_args()

    nvml, gpu_assign = import_collection()
    print("pynvml:", "present (%s)" % getattr(nvml.pynvml, "__file__", "?") if nvml.HAS_PYNVML else "MISSING")
    facts = nvml.collect_facts(nvml.pynvml)
    show("gpu_info facts (module_utils.gpu.nvml.collect_facts on real NVML)", facts)

    def attempt(title: str, services: Dict[str, Any], **kwargs: Any) -> Dict[str, Any]:
        try:
            outcome = {"ok": True, "result": gpu_assign.assign(facts["gpus"], services, reason=facts["reason"], **kwargs)}
        except gpu_assign.GpuAssignError as exc:
            outcome = {"ok": False, "problems": exc.problems}
        show("gpu_assign: %s" % title, {"services": services, "options": kwargs, **outcome})
        return outcome

    seed = attempt("seed gpu_allocation (explicit map)", SEED)
    ml_only = attempt("immich ML on GPU 0 (explicit)", {"immich": {"gpu": 0, "profiles": ["ml"]}})
    attempt("policy spread: jellyfin h264/h265 + immich ml", {"jellyfin": {"profiles": ["h264", "h265"]}, "immich": {"profiles": ["ml"]}})
    attempt("policy share: jellyfin decode + immich ml", {"jellyfin": {"profiles": ["decode"]}, "immich": {"profiles": ["ml"]}}, strategy="share")

    failures: List[str] = []

    def check(condition: bool, what: str) -> None:
        print("%s %s" % ("PASS" if condition else "FAIL", what))
        if not condition:
            failures.append(what)

    print("=== checks ===")
    if not facts["gpus"]:
        print("NO GPU: %s (%s)" % (facts["reason"], facts["reason_code"]))
        check(bool(facts["reason"]), "an empty GPU list comes with a reason")
        check(not seed["ok"], "the seed map is refused without a GPU")
        return (1 if failures else 0) if args.allow_no_gpu else 2
    for gpu in facts["gpus"]:
        label = "GPU %d (%s)" % (gpu["index"], gpu["name"])
        check(gpu["uuid"].startswith("GPU-") and gpu["memory_total_mib"] > 0, "%s: UUID and memory reported" % label)
        check(not gpu["nvenc"] or "h264" in gpu["nvenc_codecs"], "%s: NVENC implies H.264 encode" % label)
        check(gpu["mig_mode"] in ("enabled", "disabled", "unsupported"), "%s: MIG mode %s" % (label, gpu["mig_mode"]))
        if DATACENTER_NO_NVENC.search(gpu["name"]):
            check(gpu["nvenc"] is False, "%s: datacenter GPU reported without NVENC" % label)
            check(gpu["nvdec"] is True, "%s: NVDEC reported present" % label)
    first = facts["gpus"][0]
    if DATACENTER_NO_NVENC.search(first["name"]):
        problems = "\n".join(seed.get("problems", []))
        check(not seed["ok"] and "NVDEC only" in problems, "seed transcoding request refused with 'NVDEC only'")
        check(ml_only["ok"], "ML assigned to GPU 0")
        if ml_only["ok"]:
            env = ml_only["result"]["assignments"]["immich"]["env"]
            check(env["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility", "ML gets compute,utility")
            check(env["NVIDIA_VISIBLE_DEVICES"] == first["uuid"], "ML gets GPU 0's UUID")
    print("RESULT: %s" % ("all checks passed" if not failures else "%d check(s) failed" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
