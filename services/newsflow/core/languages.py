"""Language codes as the article contract has them: ISO 639-1 (two letters), or None.

Pages declare three-letter codes too (``<html lang="eng">``), and the language model names a
few languages by ISO 639-3 codes that have no two-letter one of their own but belong to a
macrolanguage that has (Egyptian Arabic ``arz``, Cantonese ``yue``). An English page declared
``eng`` was never tagged: tagging runs for ``en``.
"""

from __future__ import annotations

# Kana and Han: scripts written without spaces between words, where a character is the unit
# words are counted in (``clean.count_words``) and near copies are compared by
# (``signatures.shingles``).
UNSPACED_SCRIPTS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

# ISO 639-2 (bibliographic and terminological) and 639-3 codes of the languages with a
# two-letter code that pages are likely to declare, and the language model's own labels.
_TWO_LETTER = {
    "afr": "af", "alb": "sq", "amh": "am", "ara": "ar", "arm": "hy", "aze": "az", "baq": "eu",
    "bel": "be", "ben": "bn", "bos": "bs", "bul": "bg", "bur": "my", "cat": "ca", "ces": "cs",
    "chi": "zh", "cym": "cy", "cze": "cs", "dan": "da", "deu": "de", "dut": "nl", "ell": "el",
    "eng": "en", "epo": "eo", "est": "et", "eus": "eu", "fao": "fo", "fas": "fa", "fin": "fi",
    "fra": "fr", "fre": "fr", "geo": "ka", "ger": "de", "gle": "ga", "glg": "gl", "gre": "el",
    "guj": "gu", "hau": "ha", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "hye": "hy",
    "ibo": "ig", "ice": "is", "ind": "id", "isl": "is", "ita": "it", "jpn": "ja", "kan": "kn",
    "kat": "ka", "kaz": "kk", "khm": "km", "kor": "ko", "lao": "lo", "lat": "la", "lav": "lv",
    "lit": "lt", "ltz": "lb", "mac": "mk", "mal": "ml", "mar": "mr", "may": "ms", "mkd": "mk",
    "mlt": "mt", "mon": "mn", "msa": "ms", "mya": "my", "nep": "ne", "nld": "nl", "nor": "no",
    "pan": "pa", "per": "fa", "pol": "pl", "por": "pt", "ron": "ro", "rum": "ro", "rus": "ru",
    "sin": "si", "slk": "sk", "slo": "sk", "slv": "sl", "som": "so", "spa": "es", "sqi": "sq",
    "srp": "sr", "swa": "sw", "swe": "sv", "tam": "ta", "tel": "te", "tgl": "tl", "tha": "th",
    "tur": "tr", "ukr": "uk", "urd": "ur", "uzb": "uz", "vie": "vi", "wel": "cy", "xho": "xh",
    "yor": "yo", "zho": "zh", "zul": "zu",
    # the language model's ISO 639-3 labels that belong to a two-letter macrolanguage
    "ary": "ar", "arz": "ar", "fuv": "ff", "gug": "gn", "kik": "ki", "sdh": "ku", "uzs": "uz",
    "wuu": "zh", "yue": "zh",
}


def iso_639_1(code: str | None) -> str | None:
    """``code`` (a primary subtag: two or three letters, any case) as ISO 639-1; None for a
    code without one: "und" (undetermined), "mul", "zxx" (no language), an ancient or a
    regional language that has no two-letter code."""
    if not code:
        return None
    code = code.strip().lower()
    if len(code) == 2 and code.isascii() and code.isalpha():
        return code
    return _TWO_LETTER.get(code)
