"""Reading the text in a picture with Tesseract: one function, `read_text`, for photos, video
keyframes and scanned PDF pages. No ORM here: `evidence.services.texts` stores what it returns.

Tesseract runs as a program (pytesseract), not inside the worker: a page that makes it crash
or loop costs that run (stopped after CASEFILE_OCR_TIMEOUT_SECONDS), never the worker process.
Its hOCR output gives each word with its box, its confidence and the language it was read in.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pytesseract
from defusedxml import ElementTree
from django.conf import settings
from PIL import Image

from config.tesseract import LANGUAGE, tesseract_status

# On a picture without text Tesseract still reads texture (foliage, water, a railing) as short
# "words": 1 or 2 characters, a stroke taken for 一 or l, scattered one to a line. What is kept:
# words read with at least MIN_WORD_CONFIDENCE (0–100), in lines whose mean confidence is at
# least MIN_LINE_CONFIDENCE and which hold at least MIN_LINE_WEIGHT characters, a CJK or Hangul
# character counting two (서포 is a word), a line of digits alone at least MIN_DIGITS of them.
MIN_WORD_CONFIDENCE = 60
MIN_LINE_CONFIDENCE = 70
MIN_LINE_WEIGHT = 3
MIN_DIGITS = 4
_STROKES = "一丨丶丿乙"
_WIDE = re.compile(
    r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)
_BBOX = re.compile(r"bbox (\d+) (\d+) (\d+) (\d+)")
_WCONF = re.compile(r"x_wconf (\d+)")
# A "word" that is only punctuation or symbols says nothing.
_MEANINGFUL = re.compile(r"\w", re.UNICODE)


class OcrUnavailable(Exception):
    """Tesseract cannot be run here (absent, or none of the languages installed): the step is
    skipped, with this reason shown on the item."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class OcrFailed(Exception):
    """Tesseract ran and failed on this picture (timed out, crashed): a final, recorded failure."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Word:
    text: str
    # The box as fractions of the picture's width and height (left, top, right, bottom), so
    # that it can be drawn over any size of preview.
    box: tuple[float, float, float, float]
    confidence: int
    language: str
    line: int

    def as_dict(self, **extra) -> dict:
        return {
            "text": self.text,
            "box": list(self.box),
            "confidence": self.confidence,
            "language": self.language,
            "line": self.line,
            "page": None,
            **extra,
        }


@dataclass
class TextResult:
    text: str = ""
    words: list[Word] = field(default_factory=list)
    # The language most of the text was read in (Tesseract's name), "" when no text.
    language: str = ""
    # The mean word confidence (0–100), weighted by length; None when no text.
    confidence: float | None = None
    # The languages asked for that were installed, and those that were not.
    languages: list[str] = field(default_factory=list)
    missing_languages: list[str] = field(default_factory=list)


def parse_languages(value: str) -> list[str]:
    """ "eng+kor" (or with commas or spaces) → ["eng", "kor"]; ValueError for a name that is
    not a Tesseract language name."""
    names = [n for n in re.split(r"[+,\s]+", (value or "").strip().lower()) if n]
    bad = [n for n in names if not LANGUAGE.match(n)]
    if bad:
        raise ValueError(
            f"Not a Tesseract language name: {', '.join(bad)} (e.g. eng, kor, chi_sim)."
        )
    return list(dict.fromkeys(names))


def software() -> str:
    status = tesseract_status()
    return f"{status.version or 'tesseract'}; pytesseract {pytesseract.__version__}"


def read_text(
    image: Image.Image, languages: str | list[str], *, sparse: bool = False
) -> TextResult:
    """The text Tesseract reads in `image` in `languages` ("eng+kor" or a list), with each
    word's box, confidence and language: for photos, video keyframes and scanned pages alike.
    Tesseract's automatic layout (blocks, lines) is used: on signs and captions in photos it
    read more than its sparse-text mode (which `sparse` asks for) in our tests.

    A picture without text gives an empty result. Raises OcrUnavailable when Tesseract or every
    asked language is missing here, OcrFailed when Tesseract fails on the picture."""
    asked = parse_languages("+".join(languages) if isinstance(languages, list) else languages)
    status = tesseract_status()
    if not status.available:
        raise OcrUnavailable(status.problem)
    usable = [n for n in asked if n in status.languages]
    missing = [n for n in asked if n not in status.languages]
    if not usable:
        raise OcrUnavailable(
            f"None of the languages asked for ({'+'.join(asked) or 'none'}) is installed for "
            f"Tesseract here (installed: {', '.join(status.languages) or 'none'})."
        )
    picture = _prepared(image)
    pytesseract.pytesseract.tesseract_cmd = status.command
    try:
        hocr = pytesseract.image_to_pdf_or_hocr(
            picture,
            lang="+".join(usable),
            config=f"--psm {11 if sparse else 3}",
            extension="hocr",
            timeout=settings.CASEFILE_OCR_TIMEOUT_SECONDS,
        )
    except RuntimeError as exc:  # pytesseract's timeout
        raise OcrFailed(
            f"Reading the text took longer than {settings.CASEFILE_OCR_TIMEOUT_SECONDS} seconds "
            "and was stopped."
        ) from exc
    except (pytesseract.TesseractError, OSError) as exc:
        raise OcrFailed(f"Tesseract could not read the picture: {str(exc)[:300]}") from exc
    result = _from_hocr(hocr, size=picture.size, default_language=usable[0])
    result.languages, result.missing_languages = usable, missing
    return result


def _prepared(image: Image.Image) -> Image.Image:
    """What Tesseract reads: RGB or greyscale (no alpha, no palette), at most
    CASEFILE_OCR_MAX_EDGE along the longer edge."""
    if image.mode not in ("RGB", "L"):
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            background = Image.new("RGB", image.size, (255, 255, 255))
            background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
            image = background
        else:
            image = image.convert("RGB")
    edge = settings.CASEFILE_OCR_MAX_EDGE
    if max(image.size) > edge:
        image = image.copy()
        image.thumbnail((edge, edge), Image.Resampling.LANCZOS)
    return image


def _from_hocr(hocr: bytes, *, size: tuple[int, int], default_language: str) -> TextResult:
    """Words, lines and paragraphs from Tesseract's hOCR (XHTML it wrote itself)."""
    root = ElementTree.fromstring(hocr)
    width, height = max(1, size[0]), max(1, size[1])
    words: list[Word] = []
    paragraphs: list[list[list[str]]] = []
    line_number = 0
    for paragraph in root.iter():
        if _class(paragraph) != "ocr_par":
            continue
        par_language = paragraph.get("lang") or default_language
        lines: list[list[str]] = []
        for line in paragraph.iter():
            if _class(line) not in ("ocr_line", "ocr_caption", "ocr_textfloat", "ocr_header"):
                continue
            line_number += 1
            found: list[Word] = []
            for span in line.iter():
                if _class(span) != "ocrx_word":
                    continue
                text = "".join(span.itertext()).strip()
                title = span.get("title") or ""
                box, conf = _BBOX.search(title), _WCONF.search(title)
                confidence = int(conf.group(1)) if conf else 0
                if not text or not box or confidence < MIN_WORD_CONFIDENCE:
                    continue
                if not _MEANINGFUL.search(text):
                    continue
                x0, y0, x1, y1 = (int(v) for v in box.groups())
                found.append(
                    Word(
                        text=text,
                        box=(
                            round(x0 / width, 4),
                            round(y0 / height, 4),
                            round(x1 / width, 4),
                            round(y1 / height, 4),
                        ),
                        confidence=confidence,
                        language=span.get("lang") or par_language,
                        line=line_number,
                    )
                )
            if _line_kept(found):
                words.extend(found)
                lines.append([w.text for w in found])
        if lines:
            paragraphs.append(lines)
    text = "\n\n".join("\n".join(" ".join(line) for line in lines) for lines in paragraphs)
    if not words:
        return TextResult()
    weight = Counter()
    for word in words:
        weight[word.language] += len(word.text)
    total = sum(len(w.text) for w in words)
    return TextResult(
        text=text,
        words=words,
        language=weight.most_common(1)[0][0],
        confidence=round(sum(w.confidence * len(w.text) for w in words) / total, 1),
    )


def _line_kept(words: list[Word]) -> bool:
    """Whether a line's words look like text rather than texture (see MIN_LINE_WEIGHT)."""
    if not words:
        return False
    if sum(w.confidence for w in words) / len(words) < MIN_LINE_CONFIDENCE:
        return False
    characters = "".join(re.findall(r"\w", "".join(w.text for w in words)))
    if characters.isdigit():
        return len(characters) >= MIN_DIGITS
    # A horizontal or vertical stroke (a rail, a wire) is read as 一 or 丨: one, not two.
    wide = len(_WIDE.findall(characters)) - sum(characters.count(c) for c in _STROKES)
    return len(characters) + wide >= MIN_LINE_WEIGHT


def _class(element) -> str:
    return element.get("class") or ""
