"""The rationale teacher's fixed vocabulary: facial regions, FACS cue phrases
per (emotion, region), the sentence template, and VAD values per emotion.

Regions are boxes on the 48x48 face crop that FER2013 and our face pipeline
produce (the face centred, eyes at about 35-45% of the height; measured on
the mean FER2013 val face). They do not overlap, so occluding one hides
only that region.

Cue phrases follow the Facial Action Coding System (Ekman & Friesen 1978;
Ekman, Friesen & Hager 2002) and the EMFACS prototype action units (AUs) of
the basic emotions:

    angry    AU4 brow lowerer, AU5+AU7 upper-lid raiser and lid tightener, AU9/AU38 nose, AU23+AU24 lip tightener/pressor
    disgust  AU4, AU6+AU7 narrowed eyes, AU9 nose wrinkler, AU10 upper-lip raiser
    fear     AU1+AU2+AU4 raised and drawn-together brows, AU5+AU7, AU20 lip stretcher, AU25+AU26 lips part, jaw drop
    happy    AU6 cheek raiser (crow's feet at the eyes, lifted cheeks), AU12 lip-corner puller
    sad      AU1+AU4 inner brow raiser, AU41/AU43 drooping lids, AU6, AU15 lip-corner depressor, AU17 chin raiser
    surprise AU1+AU2 raised brows, AU5 widened eyes, AU26/AU27 jaw drop
    neutral  no action unit: the region at rest

A region outside an emotion's prototype still gets a phrase (for example the
brows of a happy face are "relaxed brows"): the teacher may find evidence
there, and the text must say so rather than invent a prototype cue. Within
an emotion no phrase contains another, so the regions a sentence names can
be read back from it (`named_regions`).

VAD (valence, arousal, dominance in [0, 1]) per emotion word from the NRC
VAD Lexicon v1: Saif M. Mohammad, "Obtaining Reliable Human Ratings of
Valence, Arousal, and Dominance for 20,000 English Words", ACL 2018
(http://saifmohammad.com/WebPages/nrc-vad.html), read from the lexicon
file (NRC-VAD-Lexicon.txt). The FER2013 labels use their own words (angry,
happy, sad, surprise, ...), the ArtEmis labels theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Region:
    name: str
    rows: tuple[float, float]  # fractions of the crop height, [top, bottom)
    cols: tuple[float, float]  # fractions of the crop width

    def box(self, size: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) pixel bounds on a size x size crop."""
        return (int(round(self.rows[0] * size)), int(round(self.rows[1] * size)),
                int(round(self.cols[0] * size)), int(round(self.cols[1] * size)))


# On 48x48: brows rows 8-15, eyes 15-23, nose and cheeks 23-31, mouth and chin 31-42.
REGIONS: tuple[Region, ...] = (
    Region("brows", (8 / 48, 15 / 48), (6 / 48, 42 / 48)),
    Region("eyes", (15 / 48, 23 / 48), (6 / 48, 42 / 48)),
    Region("nose_cheeks", (23 / 48, 31 / 48), (6 / 48, 42 / 48)),
    Region("mouth", (31 / 48, 42 / 48), (10 / 48, 38 / 48)),
)
REGION_NAMES = tuple(r.name for r in REGIONS)

# (emotion, region) -> cue phrase; the AU codes above say where each comes from.
CUES: dict[str, tuple[str, str, str, str]] = {
    "angry": ("lowered, drawn-together brows", "tightened, glaring eyes", "flared nostrils", "pressed, tightened lips"),
    "disgust": ("lowered brows", "narrowed eyes", "wrinkled nose", "raised upper lip"),
    "fear": ("raised, drawn-together brows", "widened eyes", "tensed cheeks",
             "lips stretched back from a dropped jaw"),
    "happy": ("relaxed brows", "crow's-feet at the eyes", "lifted cheeks", "raised corners of the mouth"),
    "neutral": ("level brows", "relaxed eyes", "smooth cheeks", "closed, relaxed mouth"),
    "sad": ("raised inner corners of the brows", "drooping eyelids", "slightly raised cheeks",
            "lowered corners of the mouth"),
    "surprise": ("raised, arched brows", "wide-open eyes", "lengthened lower face", "dropped jaw and open mouth"),
}

# A second region is named when its evidence is at least this share of the first's.
SECOND_REGION_SHARE = 0.5

VAD: dict[str, tuple[float, float, float]] = {
    # FER2013 labels
    "angry": (0.122, 0.830, 0.604),
    "disgust": (0.052, 0.775, 0.317),
    "fear": (0.073, 0.840, 0.293),
    "happy": (1.000, 0.735, 0.772),
    "neutral": (0.469, 0.184, 0.357),
    "sad": (0.225, 0.333, 0.149),
    "surprise": (0.875, 0.875, 0.562),
    # ArtEmis labels (and common synonyms)
    "amusement": (0.929, 0.837, 0.803),
    "anger": (0.167, 0.865, 0.657),
    "awe": (0.469, 0.740, 0.300),
    "contentment": (0.875, 0.610, 0.782),
    "excitement": (0.896, 0.684, 0.731),
    "sadness": (0.052, 0.288, 0.164),
    "happiness": (0.960, 0.732, 0.850),
    "joy": (0.980, 0.824, 0.794),
    "surprised": (0.784, 0.855, 0.539),
}


def vad_of(emotions: Sequence[str], extra: dict[str, tuple[float, float, float]] | None = None) -> np.ndarray:
    """(len(emotions), 3) float32 VAD rows; `extra` adds or overrides emotions.

    Example:
        >>> vad_of(["happy", "sad"]).astype(float).round(3).tolist()
        [[1.0, 0.735, 0.772], [0.225, 0.333, 0.149]]
    """
    table = {**VAD, **(extra or {})}
    missing = [e for e in emotions if e.lower() not in table]
    if missing:
        raise KeyError(f"no VAD value for {missing}: give them as --vad NAME=V,A,D (values in [0, 1], e.g. from the "
                       f"NRC VAD Lexicon); known: {sorted(table)}")
    return np.array([table[e.lower()] for e in emotions], dtype=np.float32)


def ranked_regions(evidence: np.ndarray) -> list[int]:
    """Region indices named for one emotion's evidence row (R,): the strongest,
    and the runner-up when it is positive and at least SECOND_REGION_SHARE of
    the strongest; none when no region has positive evidence (hiding any one
    region does not lower the emotion's probability). Ties go to the earlier
    region (stable sort)."""
    order = sorted(range(len(evidence)), key=lambda r: -float(evidence[r]))
    first, second = order[0], order[1] if len(order) > 1 else None
    if not evidence[first] > 0:
        return []
    named = [first]
    if second is not None and evidence[second] > 0 and evidence[second] >= SECOND_REGION_SHARE * evidence[first]:
        named.append(second)
    return named


def render(emotion: str, regions: Sequence[int]) -> str:
    """The teacher's sentence for an emotion and the regions it names.

    Example:
        >>> render("happy", [3, 2])
        'Happy: the raised corners of the mouth and the lifted cheeks carry most of the evidence.'
    """
    if emotion not in CUES:
        raise KeyError(f"no cue vocabulary for emotion {emotion!r}; it covers {sorted(CUES)}")
    cues = [CUES[emotion][r] for r in regions]
    if not cues:
        return f"{emotion.capitalize()}: no single region of the face carries the evidence."
    if len(cues) == 1:
        return f"{emotion.capitalize()}: most of the evidence is in the {cues[0]}."
    return f"{emotion.capitalize()}: the {cues[0]} and the {cues[1]} carry most of the evidence."


def prompt(emotion: str) -> str:
    """What generation starts from: the named emotion."""
    return f"{emotion.capitalize()}:"


def named_regions(emotion: str, text: str) -> list[int]:
    """The region indices a sentence names for `emotion`, in the order they appear."""
    if emotion not in CUES:
        return []
    found = [(text.find(cue), r) for r, cue in enumerate(CUES[emotion]) if cue in text]
    return [r for _, r in sorted(found)]


def _check_vocabulary() -> None:
    for emotion, cues in CUES.items():
        if len(cues) != len(REGIONS):
            raise AssertionError(f"{emotion}: {len(cues)} cues for {len(REGIONS)} regions")
        for a in cues:
            for b in cues:
                if a != b and a in b:
                    raise AssertionError(f"{emotion}: cue {a!r} is inside {b!r}; named_regions could not tell them apart")


_check_vocabulary()
