"""The captions of the browser tests' database, with thumbnails from the local image server."""

NAME = "Greg Rutkowski"

CAPTIONS = [
    # (caption, photo, aesthetic, punsafe)
    ("Dragon over the castle by Greg Rutkowski, trending on artstation", "rocket", 7.1, 0.01),
    ("Portrait of a knight, greg rutkowski, fantasy art", "astronaut", 6.8, 0.02),
    ("Greg Rutkowski style landscape with mountains", "moon", 6.2, 0.01),
    ("Sorceress casting a spell, art by Greg Rutkowski and Alphonse Mucha", "astronaut", 6.5, 0.03),
    ("Battle scene, Greg Rutkowski, digital painting, fantasy", "horse", 5.9, 0.02),
    ("Dark fantasy warrior by greg rutkowski", "camera", 5.4, 0.95),  # scored unsafe
    ("Greg Rutkowski concept art of a ruined city", "coins", 4.8, 0.01),
    ("A ginger cat sleeping on a sofa", "chelsea", 5.5, 0.01),
    ("Cute cat portrait, studio photo", "chelsea", 6.0, 0.01),
    ("cat and dog playing in the garden", "chelsea", 5.2, 0.02),
    ("Tabby cat on a windowsill", "chelsea", 4.9, 0.01),
    ("cat toy for indoor cats", "coins", 4.1, 0.01),
    ("Funny cat meme with text", "chelsea", 3.9, 0.01),
    ("Dog and cat best friends sleeping together", "chelsea", 5.8, 0.01),
    ("Black cat at night", "chelsea", 5.1, 0.01),
    ("Golden retriever dog running on the beach", "horse", 5.6, 0.01),
    ("Dog portrait in the snow", "horse", 5.0, 0.01),
    ("Dog collar leather brown", "coins", 3.8, 0.01),
    ("Puppy dog with a ball", "horse", 5.3, 0.01),
    ("A cup of coffee on a wooden table", "coffee", 5.7, 0.01),
    ("Coffee beans close up, stock photo", "coffee", 4.6, 0.01),
    ("Rocket launch at dawn", "rocket", 6.1, 0.01),
    ("Astronaut on the moon", "astronaut", 6.4, 0.01),
    ("Old coins collection", "coins", 4.2, 0.01),
    ("Vintage camera on a shelf", "camera", 4.7, 0.01),
    ("Full moon over the sea", "moon", 5.9, 0.01),
    ("Horse in a field at sunset", "horse", 6.0, 0.01),
]


def corpus_rows(image_base: str, photos) -> list[dict]:
    """Return the rows to ingest; every URL is unique and served by ``image_base``."""
    assert {photo for _, photo, _, _ in CAPTIONS} <= set(photos)
    return [
        {"url": f"{image_base}/{photo}.jpg?row={number}", "caption": caption,
         "aesthetic": aesthetic, "punsafe": punsafe}
        for number, (caption, photo, aesthetic, punsafe) in enumerate(CAPTIONS, 1)
    ]


def captions_with(word: str) -> list[str]:
    """Captions holding ``word`` as a whole word or phrase, ignoring case (the expected matches)."""
    import re

    pattern = re.compile(r"\b" + re.escape(word.lower()) + r"\b")
    return [caption for caption, _, _, _ in CAPTIONS if pattern.search(caption.lower())]
