"""node exporter role: service arguments, and the textfile metrics script run against a fake /proc."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_roles

SCRIPT = ROOT / "roles/node_exporter/files/mediastack-textfile-metrics"
MOUNT_POINTS_EXCLUDE = yaml.safe_load((ROOT / "roles/node_exporter/defaults/main.yml").read_text())[
    "node_exporter_filesystem_mount_points_exclude"]


def fake_process(proc: Path, pid: int, *argv: str) -> None:
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")


@pytest.fixture()
def node(tmp_path: Path) -> dict[str, Path]:
    proc, dev = tmp_path / "proc", tmp_path / "dev"
    (dev / "dri").mkdir(parents=True)
    (dev / "dri" / "renderD128").touch()
    fake_process(proc, 101, "/usr/lib/jellyfin-ffmpeg/ffmpeg", "-hwaccel", "vaapi", "-i", "in.mkv",
                 "-codec:v:0", "h264_vaapi", "-f", "hls", "out.m3u8")
    fake_process(proc, 102, "/usr/lib/jellyfin-ffmpeg/ffmpeg", "-i", "in.mkv", "-codec:v:0", "libx264", "out.m3u8")
    fake_process(proc, 103, "/usr/bin/ffmpeg", "-i", "in.mkv", "-c:v", "copy", "-c:a", "aac", "out.mkv")  # remux
    fake_process(proc, 104, "/usr/bin/python3", "-c", "print('-c:v libx264')")
    (proc / "self").mkdir()
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw 0 0\n"
        "nas:/media /mnt/media nfs4 rw 0 0\n"
        "nas:/music /mnt/my\\040music nfs4 rw 0 0\n"
    )
    return {"proc": proc, "dev": dev, "mounts": mounts, "out": tmp_path / "mediastack.prom"}


def run_script(node: dict[str, Path], *mountpoints: str) -> dict[str, float]:
    args = [sys.executable, str(SCRIPT), "--output", str(node["out"]), "--proc", str(node["proc"]),
            "--dev", str(node["dev"]), "--mounts-file", str(node["mounts"])]
    for mountpoint in mountpoints:
        args += ["--mountpoint", mountpoint]
    subprocess.run(args, check=True)
    samples = {}
    for line in node["out"].read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_counts_transcodes_and_hardware_encodes(node: dict[str, Path]) -> None:
    samples = run_script(node, "/mnt/media")
    assert samples["mediastack_transcode_sessions"] == 2  # the remux and the python process do not count
    assert samples["mediastack_transcode_hw_sessions"] == 1
    assert samples["mediastack_transcode_hw_capable"] == 1


def test_reports_each_media_share(node: dict[str, Path]) -> None:
    samples = run_script(node, "/mnt/media", "/mnt/my music", "/mnt/photos")
    assert samples['mediastack_media_share_mounted{mountpoint="/mnt/media"}'] == 1
    assert samples['mediastack_media_share_mounted{mountpoint="/mnt/my music"}'] == 1
    assert samples['mediastack_media_share_mounted{mountpoint="/mnt/photos"}'] == 0


def test_no_gpu_device_means_not_capable(node: dict[str, Path]) -> None:
    (node["dev"] / "dri" / "renderD128").unlink()
    assert run_script(node)["mediastack_transcode_hw_capable"] == 0


def test_promtool_accepts_the_written_metrics(node: dict[str, Path], promtool: str) -> None:
    run_script(node, "/mnt/media")
    result = subprocess.run([promtool, "check", "metrics"], input=node["out"].read_text(), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""  # no lint findings either


def test_role_renders_arguments_and_timer(rendered: Path) -> None:
    args = (rendered / "etc/default/prometheus-node-exporter").read_text()
    textfile_dir = rendered / "var/lib/prometheus/node-exporter"
    assert (f'ARGS="--web.listen-address=:9100 --collector.textfile.directory={textfile_dir}'
            f' --collector.filesystem.mount-points-exclude={MOUNT_POINTS_EXCLUDE}"') in args
    assert textfile_dir.is_dir()
    service = (rendered / "etc/systemd/system/mediastack-textfile-metrics.service").read_text()
    assert f"--output {textfile_dir}/mediastack.prom --mountpoint /mnt/media" in service
    timer = (rendered / "etc/systemd/system/mediastack-textfile-metrics.timer").read_text()
    assert "OnUnitActiveSec=30s" in timer
    script = rendered / "usr/local/sbin/mediastack-textfile-metrics"
    assert script.stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize("mountpoint", ["/", "/srv/mediastack", "/mnt/media", "/mnt/drill", "/media/usb", "/var/lib/docker"])
def test_the_filesystem_collector_watches_data_mounts(mountpoint: str) -> None:
    # Debian's default leaves out /mnt and /media, where the media shares are: DiskUsage must see them.
    # node exporter applies the expression with Go's regexp (RE2); this one means the same in Python.
    assert re.search(MOUNT_POINTS_EXCLUDE, mountpoint) is None


@pytest.mark.parametrize("mountpoint", ["/proc", "/sys/fs/cgroup", "/dev/shm", "/run", "/run/user/0",
                                        "/var/lib/docker/overlay2/abc/merged", "/var/lib/containers/storage/x"])
def test_the_filesystem_collector_skips_pseudo_and_container_mounts(mountpoint: str) -> None:
    assert re.search(MOUNT_POINTS_EXCLUDE, mountpoint) is not None


def test_a_relative_media_mountpoint_fails_before_any_change(tmp_path: Path) -> None:
    run = run_roles(tmp_path, {"node_exporter": {"node_exporter_media_mountpoints": ["mnt/media"]}})
    assert run.rc != 0
    assert "node_exporter_media_mountpoints a list of absolute paths" in run.output
    assert not (run.out / "etc/default/prometheus-node-exporter").exists()


def test_a_mount_points_exclude_with_whitespace_fails_before_any_change(tmp_path: Path) -> None:
    run = run_roles(tmp_path, {"node_exporter": {"node_exporter_filesystem_mount_points_exclude": "^/(proc|my mnt)($|/)"}})
    assert run.rc != 0
    assert "node_exporter_filesystem_mount_points_exclude a regular expression without whitespace" in run.output
    assert not (run.out / "etc/default/prometheus-node-exporter").exists()
