"""Which language a text is in: py3langid, a maintained fork of langid.py (BSD).

It ships its model inside the package (4.5 MB, no download), knows about 100
languages, and needs only numpy. It costs about half a millisecond a text, so
the language check asks it only when a cheaper sign is missing (for an English
spec, English function words); the identifier loads once a process, on first use.
"""

from __future__ import annotations

import functools

# a spec names its language in English ("French") or by ISO 639-1 code ("fr")
NAMES = {
    "afrikaans": "af", "albanian": "sq", "amharic": "am", "arabic": "ar", "armenian": "hy",
    "azerbaijani": "az", "basque": "eu", "belarusian": "be", "bengali": "bn", "bosnian": "bs",
    "breton": "br", "bulgarian": "bg", "catalan": "ca", "chinese": "zh", "croatian": "hr",
    "czech": "cs", "danish": "da", "dutch": "nl", "english": "en", "esperanto": "eo",
    "estonian": "et", "finnish": "fi", "french": "fr", "galician": "gl", "georgian": "ka",
    "german": "de", "greek": "el", "gujarati": "gu", "haitian creole": "ht", "hausa": "ha",
    "hebrew": "he", "hindi": "hi", "hungarian": "hu", "icelandic": "is", "indonesian": "id",
    "irish": "ga", "italian": "it", "japanese": "ja", "javanese": "jv", "kannada": "kn",
    "kazakh": "kk", "khmer": "km", "korean": "ko", "kurdish": "ku", "kyrgyz": "ky", "lao": "lo",
    "latin": "la", "latvian": "lv", "lithuanian": "lt", "luxembourgish": "lb",
    "macedonian": "mk", "malagasy": "mg", "malay": "ms", "malayalam": "ml", "maltese": "mt",
    "marathi": "mr", "mongolian": "mn", "nepali": "ne", "norwegian": "no", "oriya": "or",
    "pashto": "ps", "persian": "fa", "polish": "pl", "portuguese": "pt", "punjabi": "pa",
    "quechua": "qu", "romanian": "ro", "russian": "ru", "serbian": "sr", "sinhala": "si",
    "slovak": "sk", "slovenian": "sl", "somali": "so", "spanish": "es", "swahili": "sw",
    "swedish": "sv", "tagalog": "tl", "tamil": "ta", "telugu": "te", "thai": "th",
    "turkish": "tr", "ukrainian": "uk", "urdu": "ur", "uyghur": "ug", "uzbek": "uz",
    "vietnamese": "vi", "welsh": "cy", "xhosa": "xh", "yoruba": "yo", "zulu": "zu",
}  # fmt: skip
CODES = {code: name.title() for name, code in NAMES.items()}


def code(language: str) -> str | None:
    """The ISO 639-1 code of a spec's ``language``; None where glanc cannot tell it."""
    key = language.strip().casefold()
    if key in NAMES:
        return NAMES[key]
    return key if key in CODES else None


def name(iso: str) -> str:
    return CODES.get(iso, iso)


@functools.cache
def _identifier():  # noqa: ANN202 - py3langid has no type hints
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify(text: str, limit: int = 500) -> tuple[str, float]:
    """(ISO code, probability) of the language of ``text``'s first ``limit``
    characters (enough to tell, and the cost stays bounded)."""
    lang, probability = _identifier().classify(text[:limit])
    return lang, float(probability)
