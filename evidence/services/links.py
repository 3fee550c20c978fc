"""Links between claims and evidence: each write checks the policy and leaves an activity row,
in one transaction."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from cases.activity import Verb, activity_record
from cases.models import Claim
from cases.policy import require
from cases.services import claim_reopen, claims_lock
from evidence.models import Evidence, EvidenceLink
from evidence.search import search_index_link, search_unindex_link
from evidence.services.notifications import mentions_notify

# --- Links ----------------------------------------------------------------------------------


@transaction.atomic
def evidence_link(
    *, actor, claim: Claim, evidence: Evidence, stance: str, note: str = ""
) -> EvidenceLink:
    """Say how a piece of evidence bears on a claim (reporters and above). A decided claim goes
    back to review (`claim_reopen`): its decision was made without this evidence."""
    case = claim.case
    require(actor, case, "link.add")
    if evidence.case_id != case.pk:
        raise ValidationError({"evidence": "That evidence belongs to another case."})
    if stance not in EvidenceLink.Stance.values:
        raise ValidationError({"stance": "Choose supports, contradicts or context."})
    claims_lock(claim_ids=[claim.pk])
    if EvidenceLink.objects.filter(claim=claim, evidence=evidence).exists():
        raise ValidationError({"evidence": "This evidence is already linked to this claim."})
    link = EvidenceLink.objects.create(
        claim=claim, evidence=evidence, stance=stance, note=note, created_by=actor
    )
    data = {"claim": claim.pk, "evidence": evidence.pk, "stance": stance}
    mentions = mentions_notify(text=note, case=case, actor=actor, link=link)
    if mentions:
        data["mentions"] = mentions
    activity_record(case=case, actor=actor, verb=Verb.LINK_CREATED, target=link, data=data)
    search_index_link(link)
    claim_reopen(
        actor=actor, claim=claim, change=f"{actor.get_username()} linked {evidence} ({stance})"
    )
    return link


@transaction.atomic
def link_update(
    *, actor, link: EvidenceLink, stance: str | None = None, note: str | None = None
) -> EvidenceLink:
    """Change a link's stance or note (reporters and above). A new stance sends a decided claim
    back to review (`claim_reopen`); a note alone does not change what the evidence says."""
    case = link.claim.case
    require(actor, case, "link.edit")
    changed = {}
    if stance is not None and stance != link.stance:
        if stance not in EvidenceLink.Stance.values:
            raise ValidationError({"stance": "Choose supports, contradicts or context."})
        changed["stance"] = stance
    if note is not None and note != link.note:
        changed["note"] = note
    if not changed:
        return link
    old_stance, old_note = link.stance, link.note
    if "stance" in changed:
        claims_lock(claim_ids=[link.claim_id])
    for field, value in changed.items():
        setattr(link, field, value)
    link.save()
    data = dict(changed)
    if "note" in changed:
        mentions = mentions_notify(
            text=link.note, before=old_note, case=case, actor=actor, link=link
        )
        if mentions:
            data["mentions"] = mentions
    activity_record(case=case, actor=actor, verb=Verb.LINK_UPDATED, target=link, data=data)
    search_index_link(link)
    if "stance" in changed:
        claim_reopen(
            actor=actor,
            claim=link.claim,
            change=f"{actor.get_username()} changed {link.evidence} from {old_stance} "
            f"to {link.stance}",
        )
    return link


@transaction.atomic
def link_remove(*, actor, link: EvidenceLink) -> None:
    """Unlink evidence from a claim (reporters and above). A decided claim goes back to review
    (`claim_reopen`): its decision rested on this evidence."""
    case = link.claim.case
    require(actor, case, "link.remove")
    claims_lock(claim_ids=[link.claim_id])
    activity_record(
        case=case,
        actor=actor,
        verb=Verb.LINK_REMOVED,
        target=link,
        data={"claim": link.claim_id, "evidence": link.evidence_id, "stance": link.stance},
    )
    change = f"{actor.get_username()} unlinked {link.evidence} ({link.stance})"
    search_unindex_link(link.pk)
    link.delete()
    claim_reopen(actor=actor, claim=link.claim, change=change)
