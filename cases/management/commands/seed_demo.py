"""Load the running example: the Dandong freight train case, with one demo user per role."""

import io
from datetime import date, datetime, timedelta, timezone

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image, ImageDraw, ImageFilter
from PIL.ExifTags import IFD

from cases.models import Case, Role
from cases.services import case_create, claim_create, claim_review, claim_submit, membership_add
from evidence.models import EvidenceLink
from evidence.services import evidence_create, evidence_link, photo_ingest, source_create

User = get_user_model()

CASE_TITLE = "The Dandong freight train"
PASSWORD = "casefile-demo"  # noqa: S105 -- the demo logins are public by design
USERS = [
    ("olivia", "Olivia", "Owner", Role.OWNER),
    ("edgar", "Edgar", "Editor", Role.EDITOR),
    ("rita", "Rita", "Reporter", Role.REPORTER),
    ("victor", "Victor", "Viewer", Role.VIEWER),
]
# Someone with an account who is not in the case: sees nothing of it.
OUTSIDER = ("nora", "Nora", "Outsider")

CHINA = timezone(timedelta(hours=8))
DANDONG = ("Dandong station, Liaoning, China", 40.1194, 124.3862)
LONGKOU = ("Longkou port, Shandong, China", 37.6541, 120.3005)
NAMPO = ("Nampo port, North Korea", 38.7342, 125.3967)


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return (float(degrees), float(minutes), seconds)


def train_photo(*, loaded: bool, taken: datetime, place: tuple[str, float, float]) -> bytes:
    """A freight train at a platform, its cars loaded under blue tarpaulins or empty, with the
    EXIF a camera would write: date taken and offset, make and model, GPS."""
    width, height = 1600, 1067
    image = Image.new("RGB", (width, height), (176, 196, 214))
    draw = ImageDraw.Draw(image)
    for y in range(0, 560):  # a hazy sky, lighter near the horizon
        shade = 150 + y // 8
        draw.line([(0, y), (width, y)], fill=(shade, shade + 18, min(255, shade + 40)))
    draw.rectangle([0, 560, width, height], fill=(118, 112, 100))  # ballast and platform
    draw.polygon([(0, 900), (width, 860), (width, height), (0, height)], fill=(150, 146, 138))
    for x in range(40, width, 220):  # station lamps
        draw.rectangle([x, 300, x + 8, 700], fill=(70, 70, 74))
        draw.rectangle([x - 12, 292, x + 20, 304], fill=(230, 226, 190))
    for rail_y in (770, 800):
        draw.line([(0, rail_y), (width, rail_y)], fill=(60, 58, 56), width=6)
    for x in range(0, width, 28):
        draw.rectangle([x, 764, x + 12, 808], fill=(84, 70, 58))
    # Locomotive, with its markings.
    draw.rectangle([40, 540, 320, 760], fill=(32, 86, 64))
    draw.rectangle([60, 560, 150, 620], fill=(190, 210, 220))
    draw.text((170, 600), "SOPO", fill=(240, 220, 120))
    draw.text((170, 640), "DANDONG", fill=(240, 220, 120))
    # Freight cars.
    for i in range(5):
        x0 = 340 + i * 250
        draw.rectangle([x0, 620, x0 + 235, 760], fill=(96, 60, 44))
        draw.rectangle([x0, 620, x0 + 235, 632], fill=(70, 44, 32))
        if loaded:
            draw.rounded_rectangle([x0 + 6, 520, x0 + 229, 630], radius=28, fill=(32, 78, 168))
            for rope in range(x0 + 30, x0 + 229, 48):
                draw.line([(rope, 528), (rope, 628)], fill=(210, 210, 200), width=3)
        for wheel in (x0 + 40, x0 + 195):
            draw.ellipse([wheel - 22, 742, wheel + 22, 786], fill=(30, 30, 30))
    image = image.filter(ImageFilter.GaussianBlur(0.6))

    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS 5D Mark IV"  # Model
    exif[0x0131] = "Firmware Version 1.2.1"  # Software
    exif[0x0112] = 1  # Orientation
    exif_ifd = exif.get_ifd(IFD.Exif)
    exif_ifd[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
    exif_ifd[0x9011] = "+08:00"  # OffsetTimeOriginal
    _, latitude, longitude = place
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[1] = "N" if latitude >= 0 else "S"
    gps[2] = _dms(latitude)
    gps[3] = "E" if longitude >= 0 else "W"
    gps[4] = _dms(longitude)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88, exif=exif)
    return buffer.getvalue()


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
