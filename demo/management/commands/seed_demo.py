"""Load the running example: the Dandong freight train case, with one demo user per role."""

from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from cases.models import Case
from cases.services import case_create, claim_create, claim_review, claim_submit, membership_add
from demo.story import (
    CASE_TITLE,
    CHINA,
    DANDONG,
    LONGKOU,
    NAMPO,
    OUTSIDER,
    PASSWORD,
    USERS,
    train_photo,
)
from evidence.models import EvidenceLink
from evidence.services.evidence import evidence_create, photo_ingest
from evidence.services.links import evidence_link
from evidence.services.sources import source_create

User = get_user_model()


class Command(BaseCommand):
    help = "Load the demo case (the Dandong freight train) and one demo user per role."

    def handle(self, *args, **options):
        users = {}
        for username, first, last, _role in [*USERS, (*OUTSIDER, None)]:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.org",
                },
            )
            if created:
                user.set_password(PASSWORD)
                user.save()
            users[username] = user

        if Case.objects.filter(title=CASE_TITLE, created_by=users["olivia"]).exists():
            self.stdout.write("The demo case is already loaded.")
        else:
            self._load(users)
            self.stdout.write(self.style.SUCCESS(f"Loaded the demo case: {CASE_TITLE}."))

        self.stdout.write(f"Demo logins (password for each: {PASSWORD}):")
        for username, _first, _last, role in USERS:
            self.stdout.write(f"  {username:<8} {role.label.lower()}")
        self.stdout.write(f"  {OUTSIDER[0]:<8} not a member of the demo case")

    @transaction.atomic
    def _load(self, users):
        olivia, edgar, rita = users["olivia"], users["edgar"], users["rita"]
        case = case_create(
            actor=olivia,
            title=CASE_TITLE,
            summary=(
                "A freight train marked “Sopo” / “Dandong” has stood at Dandong station since "
                "January of last year. Photos of 14 and 25 May show it loaded, then empty; a "
                "source says the goods went by truck to Longkou and by ship to Nampo. Did the "
                "train ever cross into North Korea, as April reports said?"
            ),
        )
        for username, _first, _last, role in USERS[1:]:
            membership_add(actor=olivia, case=case, user=users[username], role=role)

        photographer = source_create(
            actor=rita,
            case=case,
            kind="own_reporting",
            name="Newsroom photographer",
            reliability="A",
        )
        china = source_create(
            actor=rita,
            case=case,
            kind="person",
            name="Zhang Min",
            protected=True,
            pseudonym="Source in China",
            reliability="B",
            notes="Freight forwarder in Dandong. Reach through the Shenyang stringer only.",
        )
        several = source_create(
            actor=rita,
            case=case,
            kind="person",
            name="Border traders (three, names on file)",
            protected=True,
            pseudonym="Multiple sources",
            reliability="C",
            notes="Two customs brokers and a rail yard worker at Dandong.",
        )
        media = source_create(
            actor=rita,
            case=case,
            kind="publication",
            name="April media reports",
            reliability="D",
        )

        photos = {}
        for day, loaded in ((14, True), (25, False)):
            taken = datetime(2026, 5, day, 10, 40, tzinfo=CHINA)
            data = train_photo(loaded=loaded, taken=taken, place=DANDONG)
            upload = SimpleUploadedFile(f"IMG_05{day}.jpg", data, content_type="image/jpeg")
            photos[day], _ = photo_ingest(
                actor=rita,
                case=case,
                file=upload,
                source=photographer,
                title=f"Train at Dandong station, {day} May — "
                + ("every car loaded under blue tarpaulins" if loaded else "every car empty"),
                observed_at=taken,
                place_name=DANDONG[0],
                latitude=DANDONG[1],
                longitude=DANDONG[2],
            )

        april = evidence_create(
            actor=rita,
            case=case,
            kind="link",
            source=media,
            url="https://news.example.org/2026/04/dandong-train-arrives-north-korea",
            title="April report: the train left China and arrived in North Korea",
            observed_at=datetime(2026, 4, 9, 12, 0, tzinfo=CHINA),
        )
        account = evidence_create(
            actor=rita,
            case=case,
            kind="testimony",
            source=china,
            text=(
                "The goods — tyres, car parts, building and interior materials, luxury goods and "
                "supplies for a leadership villa — were unloaded on 17 May and trucked to "
                "Longkou, where they went on a ship with goods from warehouses across China. "
                "The ship landed at Nampo."
            ),
            stated_on=date(2026, 5, 28),
            place_name=LONGKOU[0],
            latitude=LONGKOU[1],
            longitude=LONGKOU[2],
            title="Source in China on where the cargo went",
        )
        border = evidence_create(
            actor=rita,
            case=case,
            kind="testimony",
            source=several,
            text="No freight train has crossed the border since January of last year.",
            stated_on=date(2026, 5, 30),
            place_name=DANDONG[0],
            latitude=DANDONG[1],
            longitude=DANDONG[2],
            title="Border traders: no train has crossed",
        )
        landing = evidence_create(
            actor=rita,
            case=case,
            kind="testimony",
            source=several,
            text="A ship from Longkou with mixed Chinese cargo landed at Nampo in late May.",
            stated_on=date(2026, 5, 30),
            place_name=NAMPO[0],
            latitude=NAMPO[1],
            longitude=NAMPO[2],
            title="Landing at Nampo",
        )

        S, C = EvidenceLink.Stance.SUPPORTS, EvidenceLink.Stance.CONTRADICTS
        never_left = claim_create(
            actor=rita,
            case=case,
            statement="The train never left Dandong since January of last year",
            details="Same train, same platform, loaded on 14 May and empty on 25 May.",
        )
        arrived = claim_create(
            actor=rita,
            case=case,
            statement="The train left China and arrived in North Korea in April",
            details="As reported by other media in April.",
        )
        trucked = claim_create(
            actor=rita,
            case=case,
            statement="The cargo was unloaded on 17 May and trucked to Longkou",
            occurred_on=date(2026, 5, 17),
        )
        shipped = claim_create(
            actor=rita,
            case=case,
            statement="The goods were shipped from Longkou to Nampo",
        )
        no_trains = claim_create(
            actor=rita,
            case=case,
            statement=(
                "No international freight train has run between the two countries since "
                "January of last year"
            ),
        )
        links = [
            (never_left, photos[25], S, "Still at the same platform on 25 May."),
            (never_left, photos[14], S, "At the same platform on 14 May, loaded."),
            (never_left, border, S, ""),
            (arrived, april, S, ""),
            (
                arrived,
                photos[25],
                C,
                "The train was in Dandong in May, after its reported arrival.",
            ),
            (arrived, photos[14], C, ""),
            (trucked, account, S, ""),
            (trucked, photos[25], S, "The cars were empty by 25 May."),
            (shipped, account, S, ""),
            (shipped, landing, S, ""),
            (no_trains, border, S, ""),
        ]
        for claim, evidence, stance, note in links:
            evidence_link(actor=rita, claim=claim, evidence=evidence, stance=stance, note=note)

        for claim in (never_left, arrived, trucked):
            claim_submit(actor=rita, claim=claim)
        claim_review(
            actor=edgar,
            claim=never_left,
            decision="supported",
            confidence="high",
            note="Two dated photos of the same train at the same platform, and the border traders.",
        )
        claim_review(
            actor=edgar,
            claim=arrived,
            decision="contradicted",
            confidence="high",
            note="The photos place the train in Dandong in May, weeks after the reported arrival.",
        )
