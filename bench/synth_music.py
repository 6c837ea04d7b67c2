"""Synthetic CDDB / freedb music CD records, one table, mostly unique albums and a few duplicate submissions.

About 9,800 disc records of about 9,500 albums: most albums appear once, a few hundred 2-6 times (heavy-tailed),
as in freedb, where several people submit the same disc. A record is one submission: artist, title, freedb's
category (blues, classical, country, data, folk, jazz, misc, newage, reggae, rock, soundtrack), a free-form
genre ("Rock", "Alternative Rock", "Pop/Rock"), the year and the track titles joined by " | ". Duplicate
submissions of one disc differ the way freedb entries do:

- the artist spelt another way ("The Silver Foxes" / "Silver Foxes, The" / "silver foxes", "Last, First"),
  a typo, the case changed; artist and title swapped, or both in the title ("Artist / Title") with the artist
  missing or repeated;
- the title with a "(Remastered)" or "[Disc 1]" suffix, the disc number written another way ("(Disc 1)" /
  "[CD1]" / "- Disc One"), "(Original Motion Picture Soundtrack)" shortened to "(OST)", a typo;
- the category another one (rock / misc, folk / country, rarely data), the genre another or missing, the year
  missing or off by one;
- the tracks with typos, numbered ("01. "), re-cased, some titles missing ("Track 5") or cut short, the list
  cut short or a bonus track added; a compilation's tracks "Artist / Song" or "Song - Artist".

The hard non-matches: an artist's other albums (same artist, category, genre and era); live, remastered and
deluxe editions of an album and greatest-hits compilations, which share most of their tracks with it; the discs
of a multi-disc set, which share the title but not the tracks; volumes of a compilation series; classical
recordings of the same works by other performers; same-titled albums of other artists ("Greatest Hits").
Deterministic for a given seed. ``noise`` scales how often a submission differs in each of these ways (1.0, the
default: as above; 0: every submission of a disc the same); at 0.3 the engine of issue 15's day finds as many
of the true pairs as it found of the real CD set's (`bench/engine_quality.py`'s ``music_calibrated``).

    .venv/bin/python -m bench.synth_music --records 9800 --out music.csv
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import generator_main, shuffled_records
from bench.synth_orgs import _pick
from bench.synth_products import _typo

ADJECTIVES = ["Blue", "Black", "Golden", "Silver", "Broken", "Electric", "Wild", "Lonely", "Sweet", "Dark"]
ADJECTIVES += ["Bright", "Silent", "Crimson", "Hollow", "Velvet", "Crystal", "Burning", "Frozen", "Midnight"]
ADJECTIVES += ["Endless", "Distant", "Restless", "Little", "Big", "Strange", "Secret", "Sacred", "Lost"]
ADJECTIVES += ["Hidden", "Wicked", "Holy", "Savage", "Gentle", "Heavy", "Modern", "Ancient", "Neon", "Paper"]
ADJECTIVES += ["Iron", "Glass", "Cosmic", "Summer", "Winter", "Northern", "Southern", "Western", "Lucky"]
ADJECTIVES += ["Happy", "Cold", "Red", "Green", "White", "Purple", "Scarlet", "Emerald", "Falling", "Rising"]
NOUNS = ["Heart", "Moon", "Sun", "River", "Road", "Dream", "Fire", "Rain", "Night", "Day", "Sky", "Star"]
NOUNS += ["Light", "Shadow", "Storm", "Ocean", "Mountain", "Garden", "City", "Highway", "Train", "Angel"]
NOUNS += ["Devil", "Ghost", "Soul", "Mind", "Eye", "Hand", "Kiss", "Rose", "Wolf", "Bird", "Horse", "Tiger"]
NOUNS += ["Crown", "Mirror", "Window", "Door", "House", "Town", "Island", "Desert", "Valley", "Forest"]
NOUNS += ["Thunder", "Wind", "Wave", "Stone", "Bridge", "Machine", "Engine", "Radio", "Circus", "Carnival"]
NOUNS += ["Empire", "Kingdom", "Paradise", "Heaven", "Echo", "Silence", "Memory", "Promise", "Letter"]
NOUNS += ["Song", "Dance", "Love", "Time", "World", "Life", "Line", "Diamond", "Gold", "Smoke", "Dust"]
NOUNS += ["Sugar", "Honey", "Morning", "Summer", "Harbor", "Lantern", "Tide", "Compass", "Anchor", "Ember"]
PLURALS = ["Wolves", "Ravens", "Tigers", "Angels", "Ghosts", "Kings", "Queens", "Saints", "Sinners"]
PLURALS += ["Strangers", "Drifters", "Riders", "Rebels", "Pilots", "Lovers", "Dreamers", "Monkeys", "Foxes"]
PLURALS += ["Horses", "Bandits", "Prophets", "Seekers", "Shadows", "Flames", "Stars", "Hearts", "Mirrors"]
PLURALS += ["Engines", "Machines", "Pistols", "Roses", "Thieves", "Heroes", "Giants", "Creatures", "Owls"]
PLURALS += ["Sparrows", "Hounds", "Vultures", "Cowboys", "Outlaws", "Kids", "Boys", "Girls", "Twins"]
PLURALS += ["Echoes", "Knights", "Spiders", "Comets", "Lions", "Hurricanes", "Satellites", "Ramblers"]
VERBS = ["Run", "Fall", "Burn", "Dance", "Cry", "Shine", "Fly", "Ride", "Walk", "Dream", "Wait", "Break"]
VERBS += ["Hold", "Love", "Kiss", "Stay", "Leave", "Come", "Sing", "Drive", "Hide", "Rise", "Turn", "Call"]
VERBS += ["Talk", "Move", "Shake", "Roll", "Fade", "Feel", "Believe", "Remember", "Forget", "Touch"]
VERBS += ["Follow", "Save", "Tell", "Take", "Carry", "Chase", "Lose", "Find", "Wake", "Breathe"]
FIRST = ["John", "Mary", "David", "Sarah", "Michael", "Emma", "Thomas", "Anna", "Peter", "Laura", "James"]
FIRST += ["Kate", "Robert", "Lucy", "Paul", "Jane", "Mark", "Nina", "Willie", "Ella", "Johnny", "Billie"]
FIRST += ["Sam", "Ray", "Bobby", "Etta", "Tom", "Joni", "Neil", "Patti", "Marvin", "Aretha", "Bill", "Sue"]
FIRST += ["Hank", "Dolly", "Chet", "Norah", "Van", "Carole", "Elvis", "Otis", "Ben", "Amy", "Leon", "Iris"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark"]
LAST += ["Walker", "Young", "Allen", "King", "Wright", "Hill", "Scott", "Green", "Baker", "Nelson", "Carter"]
LAST += ["Mitchell", "Turner", "Parker", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Reed"]
LAST += ["Morgan", "Bell", "Cooper", "Howard", "Ward", "Cox", "Gray", "James", "Watson", "Brooks", "Kelly"]
LAST += ["Sanders", "Price", "Bennett", "Wood", "Barnes", "Ross", "Coleman", "Jenkins", "Perry", "Powell"]

CATEGORIES = ["blues", "classical", "country", "data", "folk", "jazz", "misc", "newage", "reggae", "rock"]
CATEGORIES += ["soundtrack"]
# An artist's category, weighted; "data" is only ever a submitter's mistake.
ARTIST_CATEGORIES = {"rock": 0.38, "misc": 0.14, "jazz": 0.08, "country": 0.06, "blues": 0.05, "folk": 0.06}
ARTIST_CATEGORIES |= {"newage": 0.04, "reggae": 0.03, "soundtrack": 0.05, "classical": 0.11}
# Where else a submitter files a disc of a category.
MISFILED = {"rock": ["misc"], "misc": ["rock"], "jazz": ["misc", "blues"], "blues": ["jazz", "rock", "misc"]}
MISFILED |= {"country": ["folk", "misc", "rock"], "folk": ["country", "misc", "rock"], "newage": ["misc"]}
MISFILED |= {"reggae": ["misc", "rock"], "soundtrack": ["misc", "classical"], "classical": ["misc"]}
GENRES = {
    "rock": ["Rock", "Alternative Rock", "Pop/Rock", "Hard Rock", "Indie Rock", "Punk Rock", "Heavy Metal"],
    "misc": ["Pop", "Electronic", "Dance", "Hip-Hop", "R&B", "Soul", "Funk", "Disco", "Latin", "Other"],
    "jazz": ["Jazz", "Bebop", "Cool Jazz", "Fusion", "Smooth Jazz", "Swing", "Big Band", "Vocal Jazz"],
    "country": ["Country", "Bluegrass", "Americana", "Country & Western", "Alt-Country"],
    "blues": ["Blues", "Delta Blues", "Chicago Blues", "Electric Blues", "Rhythm & Blues"],
    "folk": ["Folk", "Folk-Rock", "Celtic", "Singer-Songwriter", "Acoustic", "Traditional"],
    "newage": ["New Age", "Ambient", "Meditative", "Instrumental", "Chillout"],
    "reggae": ["Reggae", "Ska", "Dub", "Dancehall", "Rocksteady"],
    "soundtrack": ["Soundtrack", "Score", "Musical", "Film Score", "Original Soundtrack"],
    "classical": ["Classical", "Symphony", "Chamber Music", "Romantic", "Baroque", "Concerto"],
}
GENRE_VARIANTS = {
    "Pop/Rock": ["Pop Rock", "Rock/Pop", "Pop-Rock"],
    "Alternative Rock": ["Alternative", "Alt. Rock", "Alt Rock"],
    "Hip-Hop": ["Hip Hop", "Rap", "HipHop"],
    "R&B": ["RnB", "R & B", "Rhythm and Blues"],
    "Heavy Metal": ["Metal"],
    "Soundtrack": ["OST", "Sound Track"],
    "New Age": ["NewAge", "New-Age"],
    "Country & Western": ["Country"],
    "Folk-Rock": ["Folk Rock"],
}

ALBUM_TEMPLATES = ["{A} {N}", "{N} of the {N}", "The {A} {N}", "{N}", "{N} & {N}", "Songs from the {N}"]
ALBUM_TEMPLATES += ["In the {N}", "{N} Street", "{A} {N} Road", "Return to the {N}", "Tales of the {A} {N}"]
ALBUM_TEMPLATES += ["{N} {N}", "{A}", "Under the {A} {N}", "{A} {P}", "The {N} Sessions", "Beyond the {N}"]
TRACK_TEMPLATES = ["{A} {N}", "{N} {N}", "{V} Away", "{V} with Me", "Don't {V}", "{V} the {N}", "The {N}"]
TRACK_TEMPLATES += ["{N}", "{A} {N} Blues", "{N} Song", "When the {N} Calls", "{V} Into the {N}", "{V} On"]
TRACK_TEMPLATES += ["Love Me Like a {N}", "I {V} for You", "Somewhere in the {N}", "{N} in the {N}", "{A}"]
TRACK_TEMPLATES += ["Under the {A} {N}", "Last {N}", "Another {N}", "Goodbye {N}", "Hello {A} {N}", "{A} {P}"]
TRACK_TEMPLATES += ["{V} Me Home", "Let It {V}", "{A} {N} ({V} Away)", "Never {V} Again", "{N} of {N}"]
HITS = ["Greatest Hits", "The Best of {a}", "Gold", "The Very Best of {a}", "Anthology", "The Collection"]
HITS += [
    "Essential {a}",
    "Greatest Hits Vol. 2",
    "Singles",
    "The Definitive Collection",
    "20th Century Masters",
]
LIVE = ["{t} (Live)", "Live: {t}", "{t} Live", "Live at the {N}", "Live in {N} City"]
REMASTER = ["{t} (Remastered)", "{t} [Remastered]", "{t} ({y} Remaster)", "{t} (Remastered Edition)"]
DELUXE = ["{t} (Deluxe Edition)", "{t} (Expanded Edition)", "{t} (Special Edition)", "{t} [Deluxe]"]
BONUS = ["Demo", "Alternate Take", "Live", "Acoustic Version", "Remix", "Single Version", "Instrumental"]
COMPILATIONS = ["Now That's {A} Music! {n}", "Hits of the {d}s Vol. {n}", "The Ultimate {g} Collection {n}"]
COMPILATIONS += ["{A} {N}: {g} Classics Vol. {n}", "{g} Power Hits {n}", "Best of {g} {n}", "{A} Nights {n}"]
DISCS = ["{t} (Disc {k})", "{t} [Disc {k}]", "{t} (CD{k})", "{t} - Disc {k}", "{t} [CD {k}]", "{t} Disc {w}"]
NUMBER_WORDS = ["Zero", "One", "Two", "Three", "Four"]

COMPOSERS = [("Ludwig van", "Beethoven"), ("Wolfgang Amadeus", "Mozart"), ("Johannes", "Brahms")]
COMPOSERS += [
    ("Pyotr Ilyich", "Tchaikovsky"),
    ("Franz", "Schubert"),
    ("Antonín", "Dvořák"),
    ("Felix", "Mendelssohn"),
]
COMPOSERS += [("Robert", "Schumann"), ("Anton", "Bruckner"), ("Gustav", "Mahler"), ("Joseph", "Haydn")]
COMPOSERS += [
    ("Frédéric", "Chopin"),
    ("Sergei", "Rachmaninoff"),
    ("Jean", "Sibelius"),
    ("Johann Sebastian", "Bach"),
]
CONDUCTORS = ["Herbert von Karajan", "Leonard Bernstein", "Claudio Abbado", "Georg Solti", "Simon Rattle"]
CONDUCTORS += ["Bernard Haitink", "Riccardo Muti", "Daniel Barenboim", "Carlos Kleiber", "Karl Böhm"]
ORCHESTRAS = ["Berliner Philharmoniker", "Wiener Philharmoniker", "London Symphony Orchestra"]
ORCHESTRAS += ["Chicago Symphony Orchestra", "Royal Concertgebouw Orchestra", "New York Philharmonic"]
ORCHESTRAS += ["Staatskapelle Dresden", "Philharmonia Orchestra", "Boston Symphony Orchestra"]
KEYS = [
    "C major",
    "C minor",
    "D major",
    "D minor",
    "E-flat major",
    "E minor",
    "F major",
    "F minor",
    "G major",
]
KEYS += ["G minor", "A major", "A minor", "B-flat major", "B minor"]
# A form: its singular and plural names, and its movements' tempo markings to draw from.
FORMS = {
    "Symphony": (
        "Symphonies",
        4,
        ["Allegro con brio", "Adagio molto", "Scherzo. Allegro vivace", "Finale. Presto"],
    ),
    "Piano Concerto": ("Piano Concertos", 3, ["Allegro maestoso", "Andante", "Rondo. Allegro"]),
    "Violin Concerto": ("Violin Concertos", 3, ["Allegro moderato", "Adagio", "Allegro giocoso"]),
    "String Quartet": (
        "String Quartets",
        4,
        ["Allegro", "Andante con moto", "Menuetto. Allegretto", "Presto"],
    ),
    "Piano Sonata": ("Piano Sonatas", 3, ["Allegro assai", "Largo", "Rondo. Vivace"]),
}
FORM_NUMBERS = {
    "Symphony": 9,
    "Piano Concerto": 5,
    "Violin Concerto": 5,
    "String Quartet": 16,
    "Piano Sonata": 32,
}
ROMAN = ["I", "II", "III", "IV"]


@dataclass
class Artist:
    name: str  # canonical spelling
    kind: str  # band, person, classical, various
    category: str
    genres: list[str]
    start: int  # first year active
    first: str = ""  # a person's given name
    last: str = ""
    composer: tuple[str, str] = ("", "")  # classical: given names, surname
    performer: str = ""  # classical: "Conductor, Orchestra"
    albums: list[int] = field(default_factory=list)  # its albums' indices


@dataclass
class Album:
    artist: Artist
    title: str
    tracks: list[str]
    year: int
    genre: str
    category: str
    kind: str  # studio, live, remaster, deluxe, hits, disc, compilation, classical
    disc: int = 0  # a multi-disc set's disc number
    set_title: str = ""  # a multi-disc set's title, the form of its disc numbers in disc_form
    disc_form: str = ""
    soundtrack: bool = False


def _fill(template: str, rng: np.random.Generator) -> str:
    out = template
    for slot, words in (("{A}", ADJECTIVES), ("{N}", NOUNS), ("{P}", PLURALS), ("{V}", VERBS)):
        while slot in out:
            out = out.replace(slot, _pick(rng, words), 1)
    return out


def _track_title(rng: np.random.Generator) -> str:
    return _fill(_pick(rng, TRACK_TEMPLATES), rng)


def _new_tracks(count: int, rng: np.random.Generator, avoid: set[str] | None = None) -> list[str]:
    tracks: list[str] = []
    taken = set(avoid or ())
    while len(tracks) < count:
        title = _track_title(rng)
        if title not in taken:
            taken.add(title)
            tracks.append(title)
    return tracks


def _artists(count: int, rng: np.random.Generator) -> list[Artist]:
    cats = list(ARTIST_CATEGORIES)
    weights = np.asarray([ARTIST_CATEGORIES[c] for c in cats])
    composers = {c: [p for p in CONDUCTORS if rng.random() < 0.5] or CONDUCTORS[:1] for c in COMPOSERS}
    artists: list[Artist] = []
    seen: set[str] = set()
    while len(artists) < count:
        category = cats[int(rng.choice(len(cats), p=weights / weights.sum()))]
        genres = [str(g) for g in rng.choice(GENRES[category], min(2, len(GENRES[category])), replace=False)]
        start = int(rng.integers(1955, 2004))
        first, last, composer, performer = "", "", ("", ""), ""
        if category == "classical":
            composer = _pick(rng, COMPOSERS)
            performer = f"{_pick(rng, composers[composer])}, {_pick(rng, ORCHESTRAS)}"
            if composer[1] == "Chopin" or (composer[1] in ("Bach", "Beethoven") and rng.random() < 0.3):
                performer = f"{_pick(rng, FIRST)} {_pick(rng, LAST)}"  # a soloist
            name, kind = f"{composer[1]} / {performer}", "classical"
        elif rng.random() < (0.7 if category in ("jazz", "blues", "country", "folk", "soundtrack") else 0.35):
            first, last = _pick(rng, FIRST), _pick(rng, LAST)
            name, kind = f"{first} {last}", "person"
            r = rng.random()
            if category == "jazz" and r < 0.3:
                name = f"{name} {_pick(rng, ['Trio', 'Quartet', 'Quintet', 'Big Band'])}"
            elif category in ("blues", "country", "rock") and r < 0.15:
                name = f"{name} & the {_pick(rng, PLURALS)}"
        else:
            kind = "band"
            r = rng.random()
            if r < 0.45:
                name = f"The {_pick(rng, ADJECTIVES)} {_pick(rng, PLURALS)}"
            elif r < 0.6:
                name = f"{_pick(rng, ADJECTIVES)} {_pick(rng, PLURALS)}"
            elif r < 0.7:
                name = f"The {_pick(rng, PLURALS)}"
            elif r < 0.85:
                name = f"{_pick(rng, ADJECTIVES)} {_pick(rng, NOUNS)}"
            else:
                name = f"{_pick(rng, NOUNS)} {_pick(rng, NOUNS)}"
        if name in seen or len(set(name.split())) < len(name.split()):
            continue
        seen.add(name)
        artists.append(Artist(name, kind, category, genres, start, first, last, composer, performer))
    return artists


def _works(composer: tuple[str, str], rng: np.random.Generator) -> list[tuple[str, list[str]]]:
    """A recording's works: (work title, its movements' track titles)."""
    form = _pick(rng, list(FORMS))
    _, movements, tempos = FORMS[form]
    seed = sum(map(ord, composer[1] + form))  # a work's key and opus are fixed for its composer
    count = int(rng.integers(2 if movements == 4 else 3, 5))
    numbers = sorted(int(n) for n in rng.choice(range(1, FORM_NUMBERS[form] + 1), count, replace=False))
    works: list[tuple[str, list[str]]] = []
    for n in numbers:
        work = f"{form} No. {n} in {KEYS[(seed + 7 * n) % len(KEYS)]}, Op. {(seed + 13 * n) % 120 + 1}"
        works.append((work, [f"{work}: {ROMAN[m]}. {tempos[m]}" for m in range(movements)]))
    return works


def _classical(artist: Artist, rng: np.random.Generator) -> tuple[str, list[str]]:
    works = _works(artist.composer, rng)
    form = works[0][0].split(" No. ")[0]
    numbers = [w.split(" No. ")[1].split(" ")[0] for w, _ in works]
    title = f"{FORMS[form][0]} Nos. {', '.join(numbers[:-1])} & {numbers[-1]}"
    return title, [t for _, ts in works for t in ts]


def _studio_title(artist: Artist, tracks: list[str], rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.25:
        return _pick(rng, tracks)  # the title track
    if r < 0.28 and artist.kind == "band":
        return artist.name  # self-titled
    return _fill(_pick(rng, ALBUM_TEMPLATES), rng)


def _albums(count: int, rng: np.random.Generator) -> list[Album]:
    artists = _artists(max(10, count // 3), rng)
    popularity = 1.0 / np.arange(1, len(artists) + 1) ** 0.4  # a few artists with dozens of albums
    popularity /= popularity.sum()
    various = Artist("Various Artists", "various", "misc", ["Pop", "Rock"], 1960)
    albums: list[Album] = []
    titles: dict[str, set[str]] = {}

    def add(album: Album) -> None:
        album.artist.albums.append(len(albums))
        titles.setdefault(album.artist.name, set()).add(album.title.lower())
        albums.append(album)

    while len(albums) < count:
        r = rng.random()
        if r < 0.04 and len(albums) > 100:
            add(_compilation(albums, various, rng))
            continue
        artist = artists[int(rng.choice(len(artists), p=popularity))]
        year = min(2008, artist.start + int(rng.integers(0, 25)))
        genre = _pick(rng, artist.genres)
        own = [albums[i] for i in artist.albums if albums[i].kind in ("studio", "classical")]
        if own and r < 0.17:
            album = _edition(_pick(rng, own), r, rng)
            if album.title.lower() not in titles[artist.name]:
                add(album)
            continue
        if len(own) >= 2 and r < 0.21:
            hits = _pick(rng, HITS).format(a=artist.name)
            if hits.lower() not in titles[artist.name]:
                picked = [t for a in own for t in a.tracks if rng.random() < 2.5 / len(a.tracks)][:18]
                tracks = [picked[int(i)] for i in rng.permutation(len(picked))]
                tracks += _new_tracks(max(0, 8 - len(tracks)), rng, set(tracks))
                add(Album(artist, hits, tracks, year, genre, artist.category, "hits"))
            continue
        if artist.kind == "classical":
            title, tracks = _classical(artist, rng)
            if title.lower() not in titles.get(artist.name, set()):
                add(Album(artist, title, tracks, year, genre, artist.category, "classical"))
            continue
        tracks = _new_tracks(int(rng.integers(8, 19)), rng)
        title = _studio_title(artist, tracks, rng)
        if title.lower() in titles.get(artist.name, set()):
            continue
        soundtrack = artist.category == "soundtrack" and rng.random() < 0.6
        if soundtrack:
            title = f"{title} (Original Motion Picture Soundtrack)"
        if rng.random() < 0.04:  # a multi-disc set, one album per disc
            form = _pick(rng, DISCS)
            for k in range(1, 2 + int(rng.random() < 0.25) + 1):
                disc_tracks = tracks if k == 1 else _new_tracks(int(rng.integers(8, 19)), rng, set(tracks))
                disc_title = form.format(t=title, k=k, w=NUMBER_WORDS[k])
                add(
                    Album(
                        artist, disc_title, disc_tracks, year, genre, artist.category, "disc", k, title, form
                    )
                )
            continue
        add(Album(artist, title, tracks, year, genre, artist.category, "studio", soundtrack=soundtrack))
    return albums[:count]


def _edition(base: Album, r: float, rng: np.random.Generator) -> Album:
    """A live (r < 0.08), remastered (< 0.13) or deluxe edition of an album."""
    tracks = list(base.tracks)
    if r < 0.08:
        title = _fill(_pick(rng, LIVE).format(t=base.title, N="{N}"), rng)
        keep = [t for t in tracks if rng.random() < 0.85]
        tracks = [keep[int(i)] for i in rng.permutation(len(keep))] + _new_tracks(
            int(rng.integers(0, 3)), rng
        )
        if rng.random() < 0.4:
            tracks = [f"{t} (Live)" for t in tracks]
        year = min(2008, base.year + int(rng.integers(1, 6)))
        kind = "live"
    elif r < 0.13:
        year = min(2008, base.year + int(rng.integers(8, 30)))
        title = _pick(rng, REMASTER).format(t=base.title, y=year)
        if rng.random() < 0.3:
            suffix = _pick(rng, [" (Remastered)", f" - {year} Remaster", " - Remastered"])
            tracks = [t + suffix for t in tracks]
        tracks += [f"{t} ({_pick(rng, BONUS)})" for t in base.tracks if rng.random() < 0.1]
        kind = "remaster"
    else:
        year = min(2008, base.year + int(rng.integers(5, 30)))
        title = _pick(rng, DELUXE).format(t=base.title)
        extra = [f"{t} ({_pick(rng, BONUS)})" for t in base.tracks if rng.random() < 0.3]
        tracks += extra + _new_tracks(int(rng.integers(0, 4)), rng, set(tracks))
        kind = "deluxe"
    return Album(
        base.artist, title, tracks, year, base.genre, base.category, kind, soundtrack=base.soundtrack
    )


def _compilation(albums: list[Album], various: Artist, rng: np.random.Generator) -> Album:
    """A Various Artists compilation: tracks "Artist / Song" of other artists' albums, one of a series."""
    pool = [a for a in albums if a.artist.kind in ("band", "person")]
    genre = _pick(rng, ["Rock", "Pop", "Country", "Dance", "Soul", "Blues", "Jazz", "Reggae", "Love Songs"])
    name = _pick(rng, COMPILATIONS)
    title = _fill(name, rng).format(n=int(rng.integers(1, 12)), d=int(rng.integers(5, 10)) * 10, g=genre)
    tracks = []
    for _ in range(int(rng.integers(12, 21))):
        source = _pick(rng, pool)
        tracks.append(f"{source.artist.name} / {_pick(rng, source.tracks)}")
    year = int(rng.integers(1975, 2009))
    return Album(
        various,
        title,
        tracks,
        year,
        _pick(rng, ["Pop", "Rock", "Various", "Compilation"]),
        "misc",
        "compilation",
    )


def _recase(text: str, rng: np.random.Generator, lower: float, upper: float) -> str:
    r = rng.random()
    if r < lower:
        return text.lower()
    if r < lower + upper:
        return text.upper()
    return text


def _draw(rng: np.random.Generator, noise: float) -> float:
    """A uniform draw stretched by 1 / ``noise``, so that each threshold under 1 it is compared with is passed
    ``noise`` times as often (never at 0); at 1.0 the plain draw."""
    return rng.random() / noise if noise else 1.0


def _artist_text(album: Album, rng: np.random.Generator, noise: float = 1.0) -> str:
    artist = album.artist
    name = artist.name
    r = _draw(rng, noise)
    if artist.kind == "various":
        # Drawn only below full noise, so that the set at full noise stays the one it always was.
        plain = noise < 1 and rng.random() >= noise
        name = (
            "Various Artists"
            if plain
            else _pick(rng, ["Various Artists", "Various", "VA", "V.A.", "Various Artist", "various artists"])
        )
    elif artist.kind == "classical":
        given, surname = artist.composer
        conductor, _, orchestra = artist.performer.partition(", ")
        if r < 0.15:
            name = f"{given} {surname}"
        elif r < 0.3:
            name = f"{given} {surname} - {artist.performer}"
        elif r < 0.4:
            name = artist.performer
        elif r < 0.48 and orchestra:
            name = f"{surname}; {orchestra}, {conductor}"
        elif r < 0.55:
            name = f"{surname}, {given} / {conductor}"
    elif artist.kind == "person" and r < 0.15:
        rest = name[len(f"{artist.first} {artist.last}") :]
        name = (
            f"{artist.last}, {artist.first}{rest}" if r < 0.11 else f"{artist.first[0]}. {artist.last}{rest}"
        )
    elif name.startswith("The ") and r < 0.25:
        name = f"{name[4:]}, The" if r < 0.13 else name[4:]
    if " & " in name and rng.random() < 0.3 * noise:
        name = name.replace(" & ", " and ")
    if rng.random() < 0.04 * noise:
        words = name.split(" ")
        k = int(rng.integers(len(words)))
        words[k] = _typo(words[k], rng)
        name = " ".join(words)
    return _recase(name, rng, 0.08 * noise, 0.04 * noise)


def _title_text(album: Album, rng: np.random.Generator, noise: float = 1.0) -> str:
    title = album.title
    if album.disc and rng.random() < 0.4 * noise:
        form = _pick(rng, DISCS)
        title = form.format(t=album.set_title, k=album.disc, w=NUMBER_WORDS[album.disc])
    if album.soundtrack and rng.random() < 0.5 * noise:
        suffix = _pick(rng, ["(OST)", "(Original Soundtrack)", "- Soundtrack", "OST", ""])
        title = title.replace("(Original Motion Picture Soundtrack)", suffix).strip()
    r = _draw(rng, noise)
    if r < 0.04 and album.kind != "remaster":
        title = f"{title} (Remastered)"
    elif r < 0.06 and not album.disc:
        title = f"{title} [Disc 1]"
    elif r < 0.08 and album.kind == "compilation":
        title = title.replace(" Vol. ", " Volume ").replace(" Vol.", " Vol")
    if rng.random() < 0.05 * noise:
        words = title.split(" ")
        long = [i for i, w in enumerate(words) if len(w) >= 4]
        if long:
            k = _pick(rng, long)
            words[k] = _typo(words[k], rng)
            title = " ".join(words)
    return _recase(title, rng, 0.08 * noise, 0.04 * noise)


def _category(album: Album, rng: np.random.Generator, noise: float = 1.0) -> str:
    r = _draw(rng, noise)
    if r < 0.01:
        return "data"
    if r < 0.2:
        return _pick(rng, MISFILED.get(album.category, ["misc"]))
    return album.category


def _genre(album: Album, rng: np.random.Generator, noise: float = 1.0) -> str | None:
    r = _draw(rng, noise)
    if r < 0.45:
        return None
    genre = album.genre
    if r < 0.55:
        genre = _pick(rng, album.artist.genres)
    elif r < 0.62 and genre in GENRE_VARIANTS:
        genre = _pick(rng, GENRE_VARIANTS[genre])
    return _recase(genre, rng, 0.06 * noise, 0.02 * noise)


def _year(album: Album, rng: np.random.Generator, noise: float = 1.0) -> str | None:
    r = _draw(rng, noise)
    if r < 0.4:
        return None
    return str(album.year + _pick(rng, [-1, 1])) if r < 0.47 else str(album.year)


def _compilation_track(track: str, rng: np.random.Generator, style: int) -> str:
    artist, _, song = track.partition(" / ")
    if style == 0:
        return track
    if style == 1:
        return f"{artist} - {song}"
    if style == 2:
        return f"{song} - {artist}"
    if style == 3:
        return f"{song} ({artist})"
    return song


def _tracks(album: Album, rng: np.random.Generator, noise: float = 1.0) -> str | None:
    if rng.random() < 0.02 * noise:
        return None
    tracks = list(album.tracks)
    if album.kind == "compilation":
        style = int(rng.choice(5, p=[1 - 0.5 * noise, 0.2 * noise, 0.1 * noise, 0.1 * noise, 0.1 * noise]))
        tracks = [_compilation_track(t, rng, style) for t in tracks]
    if (
        album.artist.kind == "classical" and rng.random() < 0.3 * noise
    ):  # the movement only: "I. Allegro" or "Allegro"
        tempo_only = rng.random() < 0.5
        tracks = [t.split(": ", 1)[-1] for t in tracks]
        tracks = [t.split(". ", 1)[-1] if tempo_only else t for t in tracks]
    r = _draw(rng, noise)
    if r < 0.06:
        tracks = tracks[: int(rng.integers(max(1, len(tracks) // 2), len(tracks)))]  # the list cut short
    elif r < 0.12:
        bonus = (
            _track_title(rng) if rng.random() < 0.5 else f"{_pick(rng, album.tracks)} ({_pick(rng, BONUS)})"
        )
        tracks.append(_pick(rng, [bonus, f"{bonus} (Bonus Track)", "Hidden Track", f"{bonus} [Bonus]"]))
    lazy = rng.random() < 0.06 * noise  # some titles not typed in
    noisy = (0.12 if rng.random() < 0.25 else 0.02) * noise
    out = []
    for i, track in enumerate(tracks):
        if lazy and rng.random() < 0.4:
            track = f"Track {i + 1}" if rng.random() < 0.8 else ""
        elif rng.random() < noisy:
            words = track.split(" ")
            long = [j for j, w in enumerate(words) if len(w) >= 4]
            if long:
                k = _pick(rng, long)
                words[k] = _typo(words[k], rng)
            track = " ".join(words)
        elif rng.random() < 0.02 * noise and len(track) > 12:
            track = track[: int(rng.integers(8, len(track) - 2))]  # cut short
        out.append(track)
    r = _draw(rng, noise)
    if r < 0.12:
        out = [f"{i + 1:02d}. {t}" for i, t in enumerate(out)]
    elif r < 0.16:
        out = [f"{i + 1} - {t}" for i, t in enumerate(out)]
    elif r < 0.18:
        out = [f"[{i + 1:02d}] {t}" for i, t in enumerate(out)]
    return _recase(" | ".join(out), rng, 0.05 * noise, 0.03 * noise)


def _artist_and_title(album: Album, rng: np.random.Generator, noise: float = 1.0) -> tuple[str | None, str]:
    artist, title = _artist_text(album, rng, noise), _title_text(album, rng, noise)
    r = _draw(rng, noise)
    if r < 0.03:
        return title, artist  # swapped
    if r < 0.07:
        both = f"{artist}{_pick(rng, [' / ', ' - ', ' / ', ': '])}{title}"
        return (both if rng.random() < 0.5 else None), both
    return artist, title


def _sizes(count: int, extra: int, rng: np.random.Generator) -> list[int]:
    """``count`` album sizes, most 1, the ``extra`` records spread over a few albums of 2-6."""
    sizes = [1] * count
    order = rng.permutation(count)
    i = 0
    while extra > 0 and i < count:
        more = min(extra, int(rng.choice(5, p=[0.78, 0.11, 0.05, 0.035, 0.025])) + 1)
        sizes[int(order[i])] += more
        extra -= more
        i += 1
    return sizes


def generate_table(
    records: int = 9800, seed: int = 0, albums: int | None = None, noise: float = 1.0
) -> pa.Table:
    """``records`` disc records of about ``records * 0.97`` albums (or ``albums``), most once, a few 2-6 times.
    Columns: id, artist, title, category, genre, year, tracks, and the truth in entity_id."""
    rng = np.random.default_rng(seed)
    count = min(records, albums or max(1, round(records * 9500 / 9800)))
    catalogue = _albums(count, rng)
    sizes = _sizes(count, records - count, rng)
    rows: dict[str, list[str | None]] = {
        k: [] for k in ("artist", "title", "category", "genre", "year", "tracks", "entity_id")
    }
    for e, (album, size) in enumerate(zip(catalogue, sizes, strict=True)):
        for _ in range(size):
            artist, title = _artist_and_title(album, rng, noise)
            rows["artist"].append(artist)
            rows["title"].append(title)
            rows["category"].append(_category(album, rng, noise))
            rows["genre"].append(_genre(album, rng, noise))
            rows["year"].append(_year(album, rng, noise))
            rows["tracks"].append(_tracks(album, rng, noise))
            rows["entity_id"].append(f"d{e}")
    return shuffled_records(rows, rng)


def main() -> None:
    generator_main(__doc__ or "", generate_table, 9800)


if __name__ == "__main__":
    main()
