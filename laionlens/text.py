"""Caption text as the full-text index sees it, and user queries turned into FTS5 syntax.

The FTS5 tokenizer (``unicode61 remove_diacritics 2``) folds case and accents, so
"Dvořák" and "dvorak" are the same token. It splits words on spaces and punctuation,
which fails for scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer,
Myanmar): a whole Japanese sentence would become a single token. :func:`fts_text`
therefore puts a space around every character of those scripts before indexing, and
:func:`literal_query` does the same to queries, so a query word becomes a phrase of
characters that matches wherever that sequence appears.
"""

import re
import unicodedata

# Scripts written without spaces between words, indexed one character per token.
_UNSPACED_CHARS = re.compile(
    "["
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK extensions B to G
    "]"
)


_GREEK_CHARS = re.compile("[\u0370-\u03ff\u1f00-\u1fff]")


def fold_greek(text: str) -> str:
    """Drop the accents of Greek letters and write a final sigma as a plain one.

    ``remove_diacritics 2`` folds Latin and Cyrillic accents but keeps the Greek
    tonos, so "Αρχείου", "αρχειου" and "ΑΡΧΕΙΟΥ" would be three different tokens.
    """
    decomposed = unicodedata.normalize("NFD", text)
    kept = []
    after_greek = False
    for char in decomposed:
        if after_greek and unicodedata.category(char) == "Mn":
            continue
        kept.append(char)
        after_greek = bool(_GREEK_CHARS.match(char))
    return unicodedata.normalize("NFC", "".join(kept)).replace("ς", "σ")


def fts_text(text: str | None) -> str | None:
    """Return ``text`` in the form that is written to and looked up in ``images_fts``.

    The result must depend on ``text`` alone, because deleting a row from the
    contentless FTS table requires the exact text that was indexed.
    """
    if text is None:
        return None
    # FTS5 reads text as a C string, so whatever follows a NUL byte would vanish
    # (and a query would end inside its own quotes).
    text = text.replace("\x00", " ")
    if text.isascii():
        return text
    # NFKC maps full-width Latin letters and digits to ASCII and composes accents.
    text = unicodedata.normalize("NFKC", text)
    if _GREEK_CHARS.search(text):
        text = fold_greek(text)
    return _UNSPACED_CHARS.sub(r" \g<0> ", text)


def literal_query(text: str) -> str | None:
    """Return an FTS5 query that matches ``text`` as literal words, or None if it is blank.

    Each whitespace-separated word becomes a double-quoted FTS5 phrase, so operators
    (``AND``, ``NOT``, ``NEAR``), ``*``, ``-``, ``^``, parentheses and quotes are plain
    text. All words must appear. A word with no letters or digits, such as ``(`` or a
    lone ``"``, becomes an empty phrase, which matches no row.
    """
    words = (fts_text(text) or "").split()
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)
