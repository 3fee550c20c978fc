"""The text of a PDF: its text layer where it has one (pypdf), else its pages rendered
(pypdfium2, PDFium's wheels: no system package) and read with OCR (`evidence.imaging.ocr`).
No ORM here: `evidence.services.texts` stores what this returns.

Page by page: a page with text in its layer gives that text (exact, nothing guessed); a page
with none (a scan, a photographed page) is rendered at CASEFILE_OCR_DPI, reduced to stay under
CASEFILE_MAX_IMAGE_PIXELS, and read. At most CASEFILE_OCR_MAX_PAGES pages are read; the rest
are named in the note. A PDF that cannot be opened (damaged, encrypted) is PdfUnreadable.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

import pypdf
import pypdfium2
from django.conf import settings
from pypdf.errors import PdfReadError

from evidence.imaging.ocr import OcrUnavailable, TextResult, read_text

logger = logging.getLogger(__name__)

# A page whose text layer holds fewer letters than this is taken for a scan (a page number or a
# stamp laid over a scanned image is not its text).
MIN_LAYER_CHARACTERS = 20
MAX_PDF_BYTES = 200 * 1024 * 1024


class PdfUnreadable(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class PdfText:
    text: str = ""
    # Words with their boxes (fractions of their page) from the pages that were read with OCR.
    words: list[dict] = field(default_factory=list)
    # "text_layer", "ocr", or "text_layer+ocr" when some pages had a layer and others not.
    method: str = ""
    pages_total: int = 0
    pages_read: int = 0
    pages_ocr: int = 0
    language: str = ""
    confidence: float | None = None
    languages: list[str] = field(default_factory=list)
    missing_languages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def pdf_text(data: bytes, *, languages: str) -> PdfText:
    """Read a PDF's text (see the module docstring). OCR is used only for pages without a
    text layer; where Tesseract is absent those pages are left out, with a note (the text
    layer of the others is still read)."""
    if len(data) > MAX_PDF_BYTES:
        raise PdfUnreadable("The PDF is too large to read its text.")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfUnreadable("The PDF is encrypted with a password: its text cannot be read.")
        total = len(reader.pages)
    except PdfUnreadable:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise PdfUnreadable(f"The PDF cannot be read: {str(exc)[:200]}") from exc
    limit = settings.CASEFILE_OCR_MAX_PAGES
    result = PdfText(pages_total=total)
    if total > limit:
        result.notes.append(f"Only the first {limit} of {total} pages were read.")
    texts: list[str] = []
    ocr_results: list[TextResult] = []
    rendered = None
    unavailable: OcrUnavailable | None = None
    methods = set()
    try:
        for index in range(min(total, limit)):
            layer = _layer_text(reader, index)
            if len("".join(ch for ch in layer if ch.isalnum())) >= MIN_LAYER_CHARACTERS:
                texts.append(layer.strip())
                methods.add("text_layer")
                result.pages_read += 1
                continue
            if rendered is None:
                rendered = _open_rendering(data)
            try:
                image = _render(rendered, index)
                read = read_text(image, languages)
            except OcrUnavailable as absent:
                unavailable = absent
                if absent.reason not in result.notes:
                    result.notes.append(
                        f"Pages without a text layer were not read: {absent.reason}"
                    )
                if layer.strip():
                    texts.append(layer.strip())
                continue
            methods.add("ocr")
            result.pages_read += 1
            result.pages_ocr += 1
            ocr_results.append(read)
            result.languages, result.missing_languages = read.languages, read.missing_languages
            texts.append(read.text)
            result.words.extend(w.as_dict(page=index + 1) for w in read.words)
    finally:
        if rendered is not None:
            rendered.close()
    if result.pages_read == 0 and unavailable is not None and not any(texts):
        raise unavailable  # a scan, and no OCR here: nothing was read
    result.text = "\n\n".join(t for t in texts if t)
    result.method = "+".join(m for m in ("text_layer", "ocr") if m in methods)
    _summarise_ocr(result, ocr_results)
    return result


def _layer_text(reader: pypdf.PdfReader, index: int) -> str:
    try:
        return reader.pages[index].extract_text() or ""
    except Exception as exc:  # a damaged page's content stream: the page is read as a scan
        logger.info("PDF page %d: no text layer could be read (%s)", index + 1, exc)
        return ""


def _open_rendering(data: bytes):
    try:
        return pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise PdfUnreadable(f"The PDF's pages cannot be rendered: {exc}") from exc


def _render(document, index: int):
    """One page as a PIL image at CASEFILE_OCR_DPI, reduced to stay under the pixel limit."""
    try:
        page = document[index]
    except (pypdfium2.PdfiumError, IndexError) as exc:
        raise PdfUnreadable(f"Page {index + 1} of the PDF cannot be read: {exc}") from exc
    try:
        width, height = page.get_size()  # points
        scale = settings.CASEFILE_OCR_DPI / 72
        pixels = max(1.0, width * scale) * max(1.0, height * scale)
        budget = min(settings.CASEFILE_MAX_IMAGE_PIXELS, settings.CASEFILE_OCR_MAX_EDGE**2 * 2)
        if pixels > budget:
            scale *= (budget / pixels) ** 0.5
        bitmap = page.render(scale=scale, may_draw_forms=False)
        return bitmap.to_pil().convert("RGB")
    except pypdfium2.PdfiumError as exc:
        raise PdfUnreadable(f"Page {index + 1} of the PDF cannot be rendered: {exc}") from exc
    finally:
        page.close()


def _summarise_ocr(result: PdfText, reads: list[TextResult]) -> None:
    weights: dict[str, int] = {}
    confidence_sum = 0.0
    characters = 0
    for read in reads:
        for word in read.words:
            weights[word.language] = weights.get(word.language, 0) + len(word.text)
            confidence_sum += word.confidence * len(word.text)
            characters += len(word.text)
    if weights:
        result.language = max(weights, key=weights.get)
        result.confidence = round(confidence_sum / characters, 1)
