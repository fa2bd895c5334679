# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``dir_tree`` filter: a nested directory description to an ordered list of paths."""
from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _walk(tree: Mapping[str, Any], parent: str, out: list[dict[str, str]], where: str) -> None:
    for name in sorted(tree):
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise AnsibleFilterError(
                "dir_tree: %s has the entry %r; a directory name must be letters, digits, '.', '_' or '-' "
                "and may not start with '.' (no '..', no '/')" % (where or "the tree", name))
        child = tree[name]
        if child is None:
            child = {}
        if not isinstance(child, Mapping):
            raise AnsibleFilterError(
                "dir_tree: %s/%s must be a mapping of sub-directories (use {} for none), got %s"
                % (where, name, type(child).__name__))
        path = posixpath.join(parent, name)
        out.append({"path": path, "relative": posixpath.relpath(path, out[0]["path"])})
        _walk(child, path, out, "%s/%s" % (where, name))


def dir_tree(tree: Any, root: str) -> list[dict[str, str]]:
    """Return ``root`` and every directory below it, each parent before its children."""
    if not isinstance(root, str) or not root.startswith("/") or root != posixpath.normpath(root) or root == "/":
        raise AnsibleFilterError("dir_tree: root must be a normalised absolute path other than '/', got %r" % (root,))
    if tree is None:
        tree = {}
    if not isinstance(tree, Mapping):
        raise AnsibleFilterError("dir_tree: the tree must be a mapping of directory names, got %s" % type(tree).__name__)
    out: list[dict[str, str]] = [{"path": root, "relative": "."}]
    _walk(tree, root, out, "")
    return out


class FilterModule:
    """Directory layout filters."""

    def filters(self) -> dict[str, Any]:
        return {"dir_tree": dir_tree}
