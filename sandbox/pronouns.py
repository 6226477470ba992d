"""First person to second person ("my bet" -> "your bet"), shared by agent and judges."""

from __future__ import annotations

__all__ = ["FIRST_TO_SECOND"]

FIRST_TO_SECOND = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "i'm": "you're",
    "i've": "you've",
    "i'd": "you'd",
    "i'll": "you'll",
    "am": "are",
}
