"""Managing saved adapters: which one a task uses, listing, deleting.

Activation is a task-profile change (`TaskProfile.adapter`), so it is in the task's history
and `mindpilot memory undo` reverts it like any other change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mindpilot.adapters.library import AdapterLibrary, Manifest
from mindpilot.errors import ConflictError, NotFoundError
from mindpilot.mental_process.records import TaskProfile
from mindpilot.mental_process.store import Store
from mindpilot.self_taking import task_profile


@dataclass(frozen=True)
class Listed:
    manifest: Manifest
    active: bool  # some task of the namespace answers with it


def set_active(
    store: Store, namespace: str, task: str, adapter_id: str | None, *, actor: str = "user"
) -> TaskProfile:
    """Make `adapter_id` the task's active adapter (None: none, the bare base). Recorded in the
    task's history; undoable."""
    profile = task_profile(store, namespace, task)
    return store.put_task(replace(profile, adapter=adapter_id), actor=actor)


def deactivate(store: Store, namespace: str, task: str, *, actor: str = "user") -> bool:
    """The task answers with the bare base again (its adapters stay saved); False when it had
    no active adapter (nothing is written), a task known only by its records included (no
    adapter was ever activated for it). NotFoundError for a task the namespace does not know."""
    try:
        profile = store.get_task(namespace, task)
    except NotFoundError:
        if task in store.task_names(namespace):
            return False
        raise
    if profile.adapter is None:
        return False
    set_active(store, namespace, task, None, actor=actor)
    return True


def activate(
    store: Store, library: AdapterLibrary, namespace: str, adapter_id: str, *, actor: str = "user"
) -> Manifest:
    """Activate a saved adapter for the task it was trained for."""
    manifest = library.get(namespace, adapter_id)
    library.checked_folder(manifest)
    set_active(store, namespace, manifest.task, manifest.id, actor=actor)
    return manifest


def listing(
    store: Store, library: AdapterLibrary, namespace: str, task: str | None = None
) -> list[Listed]:
    active = {p.adapter for p in store.list_tasks(namespace)}
    return [Listed(m, m.id in active) for m in library.list(namespace, task)]


def delete(store: Store, library: AdapterLibrary, namespace: str, adapter_id: str) -> Manifest:
    """Delete a saved adapter; ConflictError while a task answers with it."""
    manifest = library.get(namespace, adapter_id)
    users = [p.name for p in store.list_tasks(namespace) if p.adapter == adapter_id]
    if users:
        raise ConflictError(
            f"adapter {adapter_id} is active for task {users[0]!r}",
            hint=f"deactivate it first: mindpilot adapters deactivate {users[0]}",
        )
    library.delete(manifest)
    return manifest
