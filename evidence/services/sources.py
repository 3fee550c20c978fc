"""Writes to a case's sources: each checks the policy, validates, and leaves an activity row,
in one transaction."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from cases.activity import Verb, activity_record
from cases.models import Case
from cases.policy import require
from evidence.models import Source
from evidence.search import search_index_source

# --- Sources --------------------------------------------------------------------------------

SOURCE_FIELDS = ("kind", "name", "protected", "pseudonym", "reliability", "notes")
# What identifies a protected source: only editors and owners may read or change it.
IDENTITY_FIELDS = frozenset({"name", "notes", "protected"})


def full_clean(instance, exclude=None):
    instance.full_clean(exclude=exclude)
    return instance


@transaction.atomic
def source_create(
    *,
    actor,
    case: Case,
    kind: str,
    name: str,
    protected: bool = False,
    pseudonym: str = "",
    reliability: str = "F",
    notes: str = "",
) -> Source:
    """Add a source to the case (reporters and above). A protected source needs a pseudonym."""
    require(actor, case, "source.add")
    source = Source(
        case=case,
        kind=kind,
        name=name.strip(),
        protected=protected,
        pseudonym=pseudonym.strip(),
        reliability=reliability,
        notes=notes,
        created_by=actor,
    )
    _check_pseudonym(source)
    full_clean(source).save()
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.SOURCE_CREATED,
        target=source,
        data={"kind": kind, "protected": protected, "reliability": reliability},
    )
    search_index_source(source)
    return source


@transaction.atomic
def source_update(*, actor, source: Source, **changes) -> Source:
    """Edit a source. Reporters edit what they can see; a protected source's identity (name,
    notes, the protection itself) is the editors' and owners' alone."""
    case = source.case
    require(actor, case, "source.edit")
    unknown = set(changes) - set(SOURCE_FIELDS)
    if unknown:
        raise ValidationError({field: "This field cannot be changed here." for field in unknown})
    changed = {k: v for k, v in changes.items() if getattr(source, k) != v}
    if not changed:
        return source
    # A protected source's pseudonym is the editors' and owners' too: a reporter's change is
    # refused before any check compares it with the hidden name, so that no answer depends on
    # that name (a guess cannot be confirmed by the wording of a refusal).
    guarded = IDENTITY_FIELDS | {"pseudonym"} if source.protected else IDENTITY_FIELDS
    if (source.protected or changed.get("protected")) and guarded & set(changed):
        require(actor, case, "source.protect")
    for field, value in changed.items():
        setattr(source, field, value.strip() if field in ("name", "pseudonym") else value)
    _check_pseudonym(source)
    full_clean(source).save()
    # Field names only: the values of a protected source's identity never enter the record.
    data = {"fields": sorted(changed)}
    if not source.protected:
        data["values"] = {k: v for k, v in changed.items() if k != "notes"}
    activity_record(case=case, actor=actor, verb=Verb.SOURCE_UPDATED, target=source, data=data)
    search_index_source(source, evidence="protected" in changed)
    return source


def _check_pseudonym(source: Source) -> None:
    if source.protected and not source.pseudonym:
        raise ValidationError({"pseudonym": "A protected source needs a pseudonym."})
    if source.protected and source.pseudonym.casefold() == source.name.casefold():
        raise ValidationError({"pseudonym": "The pseudonym must not be the source's name."})
