"""Write the demo shard: synthetic rows in the LAION improved_aesthetics_6plus layout.

Every caption is put together from the word lists below, which were written for this
project, and the artists are invented names. No row comes from LAION or any other data
set. Image URLs point at the reserved example domains of RFC 2606 (example.com,
example.net, example.org and their subdomains), so a thumbnail never reaches a real
host. The output depends only on the seed.
"""

import random
import re
import unicodedata
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_OUT = Path(__file__).resolve().parent / "aesthetics-6plus-demo.parquet"

ARTISTS = [
    "Orsolya Kvěťová", "Émile Vautrinier", "Søren Ilvang", "Łucja Wierzbanek",
    "Baptiste Ollivrand", "Renée Castelbrun", "Jovan Peškír", "Anouk Ventrelle",
    "Mirelle Dårnholm", "Teodor Halvík", "Ines Quarterra", "Marek Dvořánek",
]
STYLES = [
    "watercolor", "oil painting", "ink drawing", "digital art", "pastel sketch",
    "linocut print", "concept art", "art nouveau poster", "isometric illustration",
]
SUBJECTS = [
    "a lighthouse at dusk", "a fox in the snow", "an old harbour town", "a mountain lake",
    "a cat on a windowsill", "a foggy forest path", "a tram in the rain", "a field of tulips",
    "a castle on a cliff", "a portrait of a girl with a red scarf", "a bowl of lemons",
    "a night market", "a sailing boat", "a desert canyon", "a cherry tree in bloom",
]
DETAILS = [
    "golden hour", "soft light", "highly detailed", "dramatic clouds", "muted colours",
    "trending on an art site", "4k wallpaper", "close-up", "wide angle", "minimalist",
]
PRODUCTS = [
    "t-shirt", "coffee mug", "canvas print", "phone case", "tote bag", "throw pillow",
]
NON_LATIN = [
    "夕暮れの海辺の風景",  # Japanese: seaside landscape at dusk
    "東京の夜景の写真",  # Japanese: photo of Tokyo at night
    "雪の中の狐の水彩画",  # Japanese: watercolour of a fox in the snow
    "Зимний лес на закате",  # Russian: winter forest at sunset
    "Портрет кошки маслом",  # Russian: oil portrait of a cat
    "Ηλιοβασίλεμα στη θάλασσα",  # Greek: sunset at sea
    "Πορτρέτο γάτας σε ακουαρέλα",  # Greek: watercolour portrait of a cat
]
HOSTS = [
    "example.com", "images.example.com", "cdn.example.net", "www.example.org",
    "shop.example.com", "www.example.net", "media.example.org", "art.example.com",
]


def caption(rng: random.Random) -> str | None:
    """Return one synthetic caption, or None (LAION has rows without text)."""
    roll = rng.random()
    if roll < 0.03:
        return None
    if roll < 0.08:
        return rng.choice(NON_LATIN)
    subject, style, artist = rng.choice(SUBJECTS), rng.choice(STYLES), rng.choice(ARTISTS)
    forms = [
        f"{subject} by {artist}",
        f"{subject}, {style}, {rng.choice(DETAILS)}",
        f"{style} of {subject} in the style of {artist}",
        f"{subject.capitalize()} {rng.choice(PRODUCTS)} - {style} design",
        f"{artist} - {subject.capitalize()} ({style})",
    ]
    return rng.choice(forms)


def slug_of(text: str | None) -> str:
    """Return the first words of ``text`` as an ASCII file name, as image sites often do."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())[:4]
    return "-".join(words) or "image"


def row(rng: random.Random, index: int) -> dict:
    text = caption(rng)
    slug = slug_of(text)
    width = rng.choice([512, 640, 768, 800, 1024, 1200])
    return {
        "URL": f"https://{rng.choice(HOSTS)}/{index:04d}/{slug}.jpg",
        "TEXT": text,
        "WIDTH": float(width),
        "HEIGHT": float(int(width * rng.choice([0.5625, 0.75, 1.0, 1.25, 1.5]))),
        "similarity": round(rng.uniform(0.28, 0.42), 6),
        # Mostly safe, with a few rows above 0.5 so hidden thumbnails show in the demo.
        "punsafe": round(rng.uniform(0.55, 0.99) if rng.random() < 0.04 else rng.uniform(0.0, 0.2), 6),
        "pwatermark": round(rng.betavariate(1.2, 6.0), 6),
        "AESTHETIC_SCORE": round(rng.uniform(6.0, 8.2), 6),
        "hash": rng.randrange(-(2**63), 2**63),
        "__index_level_0__": index,
    }


SCHEMA = pa.schema([
    ("URL", pa.string()), ("TEXT", pa.string()), ("WIDTH", pa.float64()),
    ("HEIGHT", pa.float64()), ("similarity", pa.float64()), ("punsafe", pa.float64()),
    ("pwatermark", pa.float64()), ("AESTHETIC_SCORE", pa.float64()), ("hash", pa.int64()),
    ("__index_level_0__", pa.int64()),
])


def sample_table(rows: int, seed: int) -> pa.Table:
    """Return ``rows`` synthetic rows. The same seed gives the same table."""
    rng = random.Random(seed)
    return pa.Table.from_pylist([row(rng, i) for i in range(rows)], schema=SCHEMA)


@click.command()
@click.option("--rows", default=400, show_default=True, type=click.IntRange(1), help="Number of rows to write.")
@click.option("--seed", default=6, show_default=True, type=int, help="Random seed. The same seed gives the same file.")
@click.option("--out", default=str(DEFAULT_OUT), show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Parquet file to write.")
def main(rows: int, seed: int, out: Path) -> None:
    """Write the synthetic demo shard used by `make demo`.

    Example: python demo/make_sample.py --rows 400 --out demo/aesthetics-6plus-demo.parquet
    """
    pq.write_table(sample_table(rows, seed), out)
    click.echo(f"wrote {rows} rows to {out}")


if __name__ == "__main__":
    main()
