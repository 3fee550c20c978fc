"""factory_boy factories: rows made directly, for arranging a test (the services are what the
tests then exercise)."""

import factory
from django.contrib.auth import get_user_model

from cases.models import Case, Claim, Membership, Role
from evidence.models import Evidence, EvidenceLink, Source


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    title = factory.Sequence(lambda n: f"Case {n}")
    created_by = factory.SubFactory(UserFactory)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    case = factory.SubFactory(CaseFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.REPORTER


class ClaimFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Claim

    case = factory.SubFactory(CaseFactory)
    statement = factory.Sequence(lambda n: f"Claim number {n}")
    author = factory.SubFactory(UserFactory)


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    case = factory.SubFactory(CaseFactory)
    kind = Source.Kind.PERSON
    name = factory.Sequence(lambda n: f"Source {n}")
    created_by = factory.SubFactory(UserFactory)


class ProtectedSourceFactory(SourceFactory):
    name = factory.Sequence(lambda n: f"Secret Name {n}")
    protected = True
    pseudonym = factory.Sequence(lambda n: f"Pseudonym {n}")
    notes = "Phone +86 555 0100; meet at the tea house."


class LinkEvidenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evidence

    case = factory.SubFactory(CaseFactory)
    kind = Evidence.Kind.LINK
    url = factory.Sequence(lambda n: f"https://news.example.org/story/{n}")
    collected_by = factory.SubFactory(UserFactory)


def evidence_linked(claim, stance: str = "supports"):
    """A web link of the claim's case linked to it with `stance`: what a claim must have before
    it can be decided supported (a supporting link) or contradicted (a contradicting one)."""
    evidence = LinkEvidenceFactory(case=claim.case, collected_by=claim.author)
    return EvidenceLink.objects.create(
        evidence=evidence, claim=claim, stance=stance, created_by=claim.author
    )
