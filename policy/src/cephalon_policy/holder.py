"""Keeping the last good snapshot when a reload fails.

A session must not lose its policy because someone pushed a broken ``SKILL.md``: on
``/policy reload`` (or a tenant ConfigMap change) the runtime tries the new snapshot,
and if loading fails it keeps working with the previous one and shows the errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import PolicyError, PolicyLoadError
from .snapshot import PolicySnapshot


@dataclass(frozen=True)
class ReloadResult:
    """The outcome of one reload attempt.

    ``snapshot`` is the one in force afterwards (the new one, or the kept one, or
    ``None`` if there never was a good one); ``changed`` says whether its hash differs
    from before; ``errors`` lists what was wrong with the new inputs, if anything.
    """

    snapshot: PolicySnapshot | None
    changed: bool
    errors: tuple[PolicyError, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the new inputs loaded."""
        return not self.errors


class SnapshotHolder:
    """Holds the snapshot in force; replaces it only with one that loaded cleanly.

    One holder per session, owned by the runtime; it is not shared between threads.
    """

    def __init__(self, snapshot: PolicySnapshot | None = None) -> None:
        self._snapshot = snapshot

    @property
    def current(self) -> PolicySnapshot | None:
        """The last good snapshot, or ``None`` before the first good load."""
        return self._snapshot

    def reload(self, load: Callable[[], PolicySnapshot]) -> ReloadResult:
        """Call ``load``; keep its snapshot if it succeeds, else keep the current one.

        Only policy errors are caught: anything else is a bug and propagates.
        """
        previous = self._snapshot
        try:
            snapshot = load()
        except PolicyLoadError as e:
            return ReloadResult(snapshot=previous, changed=False, errors=e.errors)
        except PolicyError as e:
            return ReloadResult(snapshot=previous, changed=False, errors=(e,))
        self._snapshot = snapshot
        changed = previous is None or previous.hash != snapshot.hash
        return ReloadResult(snapshot=snapshot, changed=changed)
