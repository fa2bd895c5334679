#!/usr/bin/python3
# -*- coding: utf-8 -*-
"""Generate a deterministic service tree for the lab backup drill.

  backup_drill_tree.py ROOT COUNT SEED [--owner UID:GID]

COUNT regular files of mixed sizes (empty, small text, medium and a few MiB-sized binary files) in
nested directories with unicode names, one relative symlink, one empty directory, mixed modes.
The same SEED gives the same names, bytes and modes on every run.
"""
from __future__ import annotations

import argparse
import os
import random

DIRS = ["library", "plugins", "data/cache", "Ünïcödé/テスト", "deep/a/b/c", "séries/Staffel 1", "logs"]
NAMES = ["settings", "Amélie (2001)", "Ωmega", "日本語のタイトル", "Škoda – Überraschung", "🎬 clip", "naïve café",
         "item", "index", "poster"]
EXTS = [".xml", ".json", ".nfo", ".jpg", ".bin", ".txt", ""]


def size_for(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.08:
        return rng.choice([0, 1, 17, 63])
    if roll < 0.70:
        return rng.randint(100, 16 * 1024)
    if roll < 0.97:
        return rng.randint(16 * 1024, 384 * 1024)
    return rng.randint(1024 * 1024, 2 * 1024 * 1024)


def content(rng: random.Random, size: int, index: int) -> bytes:
    if size <= 16 * 1024:  # text-like, compressible
        line = ("<entry id=\"%d\">%s</entry>\n" % (index, "ä" * (index % 7))).encode()
        return (line * (size // len(line) + 1))[:size]
    return rng.randbytes(size)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("count", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("--owner", default="1000:1000")
    args = parser.parse_args()
    uid, gid = (int(part) for part in args.owner.split(":"))
    rng = random.Random(args.seed)
    os.makedirs(args.root, exist_ok=True)
    first = None
    for index in range(args.count):
        directory = "" if index % 5 == 0 else rng.choice(DIRS)
        name = "%s-%03d%s" % (rng.choice(NAMES), index, rng.choice(EXTS))
        path = os.path.join(args.root, directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content(rng, size_for(rng), index))
        os.chmod(path, rng.choice([0o644, 0o640, 0o600]))
        first = first or os.path.relpath(path, args.root)
    os.makedirs(os.path.join(args.root, "empty dir"), exist_ok=True)
    os.symlink(first, os.path.join(args.root, "current → link"))
    for current, dirs, files in os.walk(args.root):
        os.chown(current, uid, gid)
        os.chmod(current, 0o750)
        for name in dirs + files:
            os.lchown(os.path.join(current, name), uid, gid)


if __name__ == "__main__":
    main()
