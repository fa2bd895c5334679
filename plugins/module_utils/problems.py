# Copyright: mediastack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One error type and one problem collector for every input the collection checks.

``InputError`` is the one error of an unusable input: ``problems`` holds one actionable line per problem
(what, where, the fix), the message joins them with newlines. Each domain raises its own subclass
(``CatalogError``, ``EdgeError``, ``NetPlanError``, ...), so ``except InputError`` catches them all.

``Problems`` collects the lines while an input is read, so a user sees every problem at once, then
``raise_if_any`` raises them as one error. Its checks return the value when it is good and record a line
otherwise, in one of two wordings:

- without ``example``/``fix`` (the service catalog): ``must be a mapping, got 'x'``;
- with them (settings such as the edge's): ``'x' (str) is not a mapping; give one such as {...}``, the value
  shown by ``shown``, which never prints a string that looks like a secret.

A line is ``<subject>: <path> <message>`` when the collector has a subject (a catalog service:
``jellyfin: ports[0].target must be ...``) and ``<path>: <message>`` otherwise (``edge.acme.email: ...``).

Pure computation, no Ansible imports: runs on targets too, so the syntax stays Python 3.8 compatible.
"""
from __future__ import annotations

import difflib
import re
import typing as t
from collections.abc import Mapping

# A Go/Docker duration (healthchecks, Traefik and Authelia timeouts): 30s, 1m30s, 500ms.
DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
# A token-like run: long, with upper case, lower case and digits (API tokens, keys); never echoed in a message.
HIGH_ENTROPY = re.compile(r"[A-Za-z0-9+/=_-]{20,}")


class InputError(ValueError):
    """An input cannot be used; ``problems`` holds one actionable line each (a single message is one line)."""

    def __init__(self, problems: t.Union[str, t.Sequence[str]]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)  # type: t.List[str]
        super().__init__("\n".join(self.problems))


def _looks_secret(value: str) -> bool:
    if "-----BEGIN" in value:
        return True
    for run in HIGH_ENTROPY.findall(value):
        if re.search(r"[a-z]", run) and re.search(r"[A-Z]", run) and re.search(r"[0-9]", run):
            return True
    return False


def type_name(value: t.Any) -> str:
    """The YAML-level name of a value's type (Ansible wraps inventory values in tagged subclasses of str, dict, ...)."""
    for klass, name in ((bool, "bool"), (str, "str"), (int, "int"), (float, "float"), (Mapping, "dict"), (list, "list")):
        if isinstance(value, klass):
            return name
    return type(value).__name__


def shown(value: t.Any) -> str:
    """A value and its type for a message: ``'1.1' (str)``, ``42 (int)``; a secret-looking string is not shown."""
    if isinstance(value, str) and _looks_secret(value):
        return "a str of %d characters (not shown: it looks like a secret)" % len(value)
    return "%r (%s)" % (str(value) if isinstance(value, str) else value, type_name(value))


def did_you_mean(word: str, known: t.Iterable[str], otherwise: str) -> str:
    """``did you mean <the closest known name>?``, or ``otherwise`` when none is close."""
    hint = difflib.get_close_matches(word, list(known), 1)
    return "did you mean %s?" % hint[0] if hint else otherwise


class Problems:
    """Collects the problems of one input, one line each; ``subject`` (a service name) starts every line."""

    def __init__(self, subject: t.Optional[str] = None) -> None:
        self.subject = subject
        self.lines = []  # type: t.List[str]
        self.hidden = set()  # type: t.Set[str]

    def bad(self, path: str, message: str) -> None:
        """Record one problem of ``path`` (silent for a path already reported as a secret)."""
        if path in self.hidden:
            return
        if self.subject is None:
            self.lines.append("%s: %s" % (path, message))
        else:
            self.lines.append("%s: %s %s" % (self.subject, path, message))

    def secret(self, path: str, message: str) -> None:
        """Report a secret once; later checks of the same path stay silent, so its value is never shown."""
        self.bad(path, message)
        self.hidden.add(path)

    def extend(self, lines: t.Iterable[str]) -> None:
        """Add lines that are already whole (another error's ``problems``)."""
        self.lines.extend(lines)

    def raise_if_any(self, error: t.Type[InputError] = InputError) -> None:
        """Raise ``error`` with every line collected, if there is one."""
        if self.lines:
            raise error(self.lines)

    def mapping(self, value: t.Any, path: str, example: t.Optional[str] = None) -> t.Optional[t.Dict[str, t.Any]]:
        """A copy of the mapping; None when it is absent or not a mapping."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            if example is None:
                self.bad(path, "must be a mapping, got %s" % type_name(value))
            else:
                self.bad(path, "%s is not a mapping; give one such as %s" % (shown(value), example))
            return None
        return dict(value)

    def seq(self, value: t.Any, path: str) -> t.List[t.Any]:
        """A copy of the list; [] when it is absent or not a list."""
        if value is None:
            return []
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            self.bad(path, "must be a list, got %r" % (value,))
            return []
        return list(value)

    def keys(self, value: t.Mapping[t.Any, t.Any], path: str, known: t.Iterable[str], what: str = "field",
             skip: t.Optional[t.Callable[[t.Any], bool]] = None) -> None:
        """Unknown keys of ``value``, with a did-you-mean; keys ``skip`` accepts are left to another check."""
        known = sorted(known)
        for key in sorted(set(value) - set(known), key=str):
            if skip is not None and skip(key):
                continue
            fix = did_you_mean(str(key), known, "use one of %s" % ", ".join(known))
            self.bad("%s.%s" % (path, key) if path else str(key), "is not a known %s; %s" % (what, fix))

    def integer(self, value: t.Any, path: str, low: int, high: int) -> t.Optional[int]:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.bad(path, "must be an integer from %d to %d, got %r" % (low, high, value))
            return None
        return value

    def boolean(self, value: t.Any, path: str, fix: t.Optional[str] = None) -> bool:
        """The boolean; False (and a problem) for anything else."""
        if not isinstance(value, bool):
            if fix is None:
                self.bad(path, "must be true or false, got %r" % (value,))
            else:
                self.bad(path, "%s is not a boolean; %s" % (shown(value), fix))
            return False
        return value

    def choice(self, value: t.Any, path: str, choices: t.Sequence[str], suggest: bool = False) -> t.Optional[str]:
        """One of ``choices``; ``suggest`` names the closest one (``'x' (str) is not supported; did you mean y?``)."""
        if value not in choices:
            if not suggest:
                self.bad(path, "is %r; use one of %s" % (value, ", ".join(choices)))
            else:
                otherwise = "use one of %s" % ", ".join(choices)
                fix = did_you_mean(value, choices, otherwise) if isinstance(value, str) else otherwise
                self.bad(path, "%s is not supported; %s" % (shown(value), fix))
            return None
        return value

    def string(self, value: t.Any, path: str, pattern: t.Optional[t.Pattern[str]] = None, fix: t.Optional[str] = None) -> t.Optional[str]:
        """A non-empty string (matching ``pattern`` when given)."""
        if not isinstance(value, str) or not value or (pattern is not None and not pattern.match(value)):
            if fix is None:
                self.bad(path, "must be a non-empty string, got %r" % (value,))
            else:
                self.bad(path, "%s is not valid; %s" % (shown(value), fix))
            return None
        return value

    def duration(self, value: t.Any, path: str, example: t.Optional[str] = None) -> t.Optional[str]:
        """A Go/Docker duration such as 30s or 1m30s."""
        if not isinstance(value, str) or not DURATION.match(value):
            if example is None:
                self.bad(path, "must be a duration such as 30s, 1m30s or 500ms, got %r" % (value,))
            else:
                self.bad(path, "%s is not a duration; give one such as %s" % (shown(value), example))
            return None
        return value

    def absolute(self, value: t.Any, path: str, example: str) -> t.Optional[str]:
        """An absolute path without ``..`` (inside a container)."""
        if not isinstance(value, str) or not value.startswith("/") or ".." in value.split("/"):
            self.bad(path, "%s is not an absolute path inside the container; give one such as %s" % (shown(value), example))
            return None
        return value
