"""What a schema change does to the generated API: notes for `diff` when code using it would break."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .api import Api, Repository


@dataclass(frozen=True, order=True)
class ApiNote:
    path: str       # TenantData.users.open_jobs, UsersItem.role
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _signatures(api: Api) -> dict[str, dict[str, str]]:
    """Every public callable as path → {argument: annotation, '->': return annotation}."""
    out: dict[str, dict[str, str]] = {}

    def repository(owner: str, repo: Repository) -> None:
        base = f"{owner}.{repo.attribute}"
        out[base] = {}
        if repo.item is not None:
            key = {p.name: p.annotation for p in repo.key}
            out[f"{base}.get"] = {**key, "->": f"{repo.item} | None"}
            out[f"{base}.put"] = {"item": repo.item, "->": "None"}
            out[f"{base}.delete"] = {**key, "->": "None"}
        for q in repo.queries:
            args = {} if repo.tenant_bound else {q.partition.name: q.partition.annotation}
            if q.exact is not None:  # one item or None: the sort key (if any) is a required argument
                if q.sort is not None:
                    args[q.sort.name] = q.sort.annotation
                out[f"{base}.{q.method}"] = {**args, "->": f"{q.model} | None"}
                continue
            if q.sort is not None:
                args[q.sort.name] = q.sort.annotation
                if q.sort.prefix:
                    args[f"{q.sort.name}_begins_with"] = q.sort.prefix
                args[f"{q.sort.name}_between"] = f"tuple[{q.sort.annotation}, {q.sort.annotation}]"
            out[f"{base}.{q.method}"] = {**args, "->": f"Page[{q.model}]"}

    for repo in api.tenant:
        repository("TenantData", repo)
    for repo in api.cross:
        repository("CrossTenantData", repo)
    for model in api.items:
        out[model.name] = {f.name: f.annotation if f.required else f"{f.annotation} | None" for f in model.fields}
    # Compare enums by their values, not by the alias's name (JobsStatus → Literal[...]).
    if api.literals:
        def expand(annotation: str) -> str:
            return re.sub(r"[A-Za-z_]\w*", lambda m: api.literals.get(m.group(0), m.group(0)), annotation)

        out = {path: {name: expand(a) for name, a in params.items()} for path, params in out.items()}
    return out


def api_notes(before: Api, after: Api) -> list[ApiNote]:
    """Removed methods, models and arguments, and changed types: what breaks code written against `before`.

    Additions are left out: they break nothing (a new required item field aside, which is reported).
    """
    old, new = _signatures(before), _signatures(after)
    notes: list[ApiNote] = []
    for path, params in old.items():
        if path not in new:
            what = "the model" if "." not in path else "the repository" if path.count(".") == 1 else "the method"
            notes.append(ApiNote(path, f"{what} is removed from the generated API"))
            continue
        for name, annotation in params.items():
            now = new[path].get(name)
            label = "the return type" if name == "->" else f"the field {name!r}" if "." not in path \
                else f"the argument {name!r}"
            if now is None:
                notes.append(ApiNote(path, f"{label} is removed"))
            elif now != annotation:
                notes.append(ApiNote(path, f"{label} changes type: {annotation} → {now}"))
    for path, params in new.items():
        if path in old and "." not in path:
            for name, annotation in params.items():
                if name not in old[path] and not annotation.endswith("| None"):
                    notes.append(ApiNote(path, f"the required field {name!r} is added: existing code must set it"))
    return sorted(notes)
