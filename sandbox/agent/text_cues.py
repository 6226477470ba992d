"""Text cues the reference agent reads from a user's message.

Stateless detectors over one message: plans the user voices, requests to forget,
references back to an earlier conversation, what is worth remembering, and whether the
message asks for information (and whether it asks for recall of the conversations
themselves). The stateful personalization components live in
:mod:`sandbox.agent.components`, which re-exports these names.
"""

from __future__ import annotations

import re

import numpy as np

from sandbox.embeddings import get_embedder

__all__ = [
    "RECALL_MARGIN",
    "RECALL_SIMILARITY",
    "detect_forget_request",
    "detect_plan",
    "information_request",
    "is_disclosure",
    "is_request",
    "is_self_disclosure",
    "memorable",
    "refers_back",
]

_FORGET = re.compile(
    r"\b(forget|delete|erase|remove|wipe|stop remembering)\b.{0,60}?"
    r"\b(about|that|what|my|everything)\b",
    re.IGNORECASE,
)
_PLAN = re.compile(
    r"\b(?:I(?:'m| am) (?:thinking (?:about|of)|planning(?: to| on)?|going to|about to)|"
    r"I (?:want|plan|intend|need) to|I should(?: probably)?|should I)\s+(?P<plan>[^.?!]{4,160})",
    re.IGNORECASE,
)
_REFERS_BACK = re.compile(
    r"\b(what I (?:told|said to) you|my plan|from (?:last time|before)|"
    r"go through with (?:it|that))\b",
    re.IGNORECASE,
)
_SELF = re.compile(r"\b(I|I'm|I've|I'd|my|me|mine)\b", re.IGNORECASE)
_WE = re.compile(r"\b(we|we're|we've|we'd|our|ours|us)\b", re.IGNORECASE)
# Someone other than the user: a relation, a third-person pronoun, or a name.
_RELATION = re.compile(
    r"\b(?:sister|brother|sibling|mum|mom|mother|dad|father|parents?|wife|husband|partner|"
    r"boyfriend|girlfriend|fianc[eé]e?|son|daughter|kids?|child(?:ren)?|baby|cousin|aunt|"
    r"uncle|grand(?:ma|pa|mother|father|parents?)|nephew|niece|in-laws?|colleague|"
    r"co-?worker|boss|manager|assistant|employee|client|customer|patient|student|pupil|"
    r"teacher|doctor|therapist|friend|best friend|neighbou?r|room-?mate|flat-?mate|"
    r"house-?mate|landlord|landlady|tenant|ex)s?\b",
    re.IGNORECASE,
)
_THIRD = re.compile(r"\b(he|she|him|his|her|hers|he's|she's|he'd|she'd)\b", re.IGNORECASE)
_CAPITAL = re.compile(r"\b[A-Z][a-z]+(?:'s)?\b")
# Capitalised openers that are not names.
_COMMON_OPENERS = """
    a all also an and any anyway are as at be because but by can could did do does each
    either even every everybody everyone everything few for from good great had has have
    here hey hi hello how however if in is it it's its just last let let's life lol many
    maybe more most much my next no nobody none not nothing now of oh ok okay on one only
    or other our perhaps please so some somebody someone something sometimes sorry still
    such thanks thank that that's the their then there there's these they this those
    though to today tomorrow tonight too ugh um very was we well were what what's when
    where which while who why will with work would yes yesterday yet you your hmm wow
    things people monday tuesday wednesday thursday friday saturday sunday january
    february march april may june july august september october november december honestly
    actually basically seriously recently lately apparently
"""
_NOT_NAMES = frozenset(_COMMON_OPENERS.split())
_NAME_SUBJECT = re.compile(
    r"^[A-Z][a-z]+,?\s+(?:[A-Z][a-z]+|is|was|has|had|have|will|would|can|could|did|does|"
    r"doesn't|didn't|isn't|wasn't|hasn't|won't|can't|just|still|never|always|also|and|kept|"
    r"told|said|got|lost|left|went|came|took|gave|found|made|met|saw|knew|thought|felt|"
    r"became|began|[a-z]+ed|[a-z]+s)\b"
)
# Greetings and thanks (short ones: "Hi, it's Maya.", "Thank you for backing me up.").
_PLEASANTRY = re.compile(
    r"^(?:(?:hi|hey|hello|hiya|morning|evening|good (?:morning|afternoon|evening|night)|bye|"
    r"goodbye|see you|cheers)\b(?:\W+[\w']+){0,4}"
    r"|(?:thanks|thank you|thx|ta)\b(?:\W+[\w']+){0,7})\W*$",
    re.IGNORECASE,
)
# Information-seeking: a question, or an imperative addressed to the agent.
_ASK_OPENER = re.compile(
    r"^(?:what|what's|whats|who|who's|whom|whose|which|when|where|why|how|did|do|does|"
    r"has|have|had|is|are|was|were|can|could|would|will|should|shall|may|might|any|anything|"
    r"got|i (?:want|need|would like|'d like|'d love) to (?:know|hear|see)|i wonder|"
    r"i'm (?:curious|wondering))\b",
    re.IGNORECASE,
)
# Verbs that open a request for information wherever a clause starts ("For my report,
# list ..."), and more verbs that make a sentence an imperative when they open it.
_TELL_VERBS = (
    "tell|list|summari[sz]e|sum up|repeat|recall|remind|show|print|share|give|say|output|"
    "dump|reveal|describe|recap|read|paste|enumerate|quote|spell out|write out|write down|"
    "fill me in|go over|go back over|walk me through|let me know|catch me up|pass on|spill|"
    "dish|pretend|imagine|act as|play|role-?play|let's|lets"
)
_IMPERATIVE_VERBS = (
    _TELL_VERBS + "|name|copy|display|export|report|explain|suppose|help|find|look|check|"
    "make|boil|compile|draft|prepare|create|generate|produce|outline|fetch|retrieve|pull|"
    "search|open|load|type|update|brief|inform|forward|relay|translate|rewrite|write|put|"
    "get|bring|send|go|be|become|assume|switch|enter|start|begin|continue|recommend|suggest|"
    "teach|use"
)
_TELL = re.compile(rf"^(?:{_TELL_VERBS})\b", re.IGNORECASE)
# "<verb> me/us ..." opens an imperative whatever the verb ("Entertain me with ...").
_IMPERATIVE = re.compile(
    rf"^(?:{_IMPERATIVE_VERBS}|(?:can|could|would|will) you|[a-z]+(?<!ed)(?<!s) (?:me|us))\b",
    re.I,
)
_ASKS_AGENT = re.compile(rf"^(?:{_TELL_VERBS}|(?:can|could|would|will) you)\b", re.I)
_FILLER = re.compile(
    r"^(?:(?:please|pls|ok|okay|so|now|right|alright|hey|then|just|quickly|kindly|also|and|"
    r"but|first|well|oh|go on|come on)\b[\s,]*)+",
    re.IGNORECASE,
)
# A standing instruction to the agent ("from now on, end every reply with ..."): a
# preference worth remembering even when it says nothing about anyone.
_INSTRUCTS = re.compile(
    r"\b(?:from now on|(?:every|each) (?:answer|reply|response|message)|in (?:the )?future|"
    r"whenever you)\b",
    re.IGNORECASE,
)
_STANDING = re.compile(
    r"\b(?:from now on|always|every (?:time|answer|reply|message)|whenever|in (?:the )?future|"
    r"remember that)\b",
    re.IGNORECASE,
)
# What the agent was told ("told you", "shared with you"), and what it keeps or who else
# it talks to ("your notes", "other users", "anyone else"): a request that mentions these
# asks for the conversations themselves; a sentence about the latter is no disclosure.
_TOLD_YOU = re.compile(
    r"\b(?:(?:told|tell|tells|telling|gave|give|given|sent|said|say|says|saying|mentioned|"
    r"confided|confessed|admitted|entrusted|trust|trusted)\s+(?:it\s+)?(?:to\s+)?you|"
    r"(?:shared|talk|talked|talks|talking|spoke|speak|chat|chatted|chatting)\s+(?:\w+\s+)?"
    r"(?:to|with|in)\s+you)\b",
    re.IGNORECASE,
)
_OTHERS = re.compile(
    r"\b(?:your\s+(?:\w+\s+)?(?:memory|memories|notes|records|logs|files|database|users|"
    r"clients|customers|patients|conversations|chats|sessions)|(?:other|another|different|"
    r"previous)\s+(?:users?|clients?|customers?|people|persons?|patients?|folks|members?|"
    r"conversations?|chats?)|(?:anyone|anybody|someone|somebody|everyone|everybody|people|"
    r"others|no one|nobody)\s+else|\w+one(?:'s|\s+else's)\s+(?:business|secrets?|details|"
    r"news|problems)|(?:the\s+)?person\s+before\s+me)\b",
    re.IGNORECASE,
)
_MEMORY_CUE = re.compile(
    r"\b(?:remember(?:ed|s)?|recall(?:ed|s)?|memor(?:y|ies)|notes?|records?|logs?|entries|"
    r"diary|journal|stored|saved|database|transcripts?|told|said|mention(?:ed|s)?|shared|"
    r"confided|confessed|heard|learn(?:ed|t)|disclosed|revealed|gossip|secrets?|"
    r"conversations?|chats?|confidences?|come up|came up|(?:did|does|do)\s+(?:[\w']+\s+){1,2}"
    r"say|(?:users?|people|others|clients?|customers?|folks|anyone|anybody|someone|somebody|"
    r"everyone|everybody)\s+(?:\w+\s+)?(?:tell|tells|told|share|shares|shared|confide|"
    r"confides|confided|say|says|said|mention|mentions|mentioned)|(?:brought|bring|brings|"
    r"raised|raise|discussed|discuss)\b[^.?!]{0,40}\bwith\s+you|you\s+(?:\w+\s+)?(?:talk|"
    r"talked|spoke|speak|chat|chatted)\s+(?:to|with))\b",
    re.IGNORECASE,
)


def detect_forget_request(text: str) -> bool:
    """Whether the user asks the agent to forget something they said."""
    return bool(_FORGET.search(text))


_VAGUE = re.compile(r"^(?:do|try|go (?:for|with)|go through with) (?:it|that|this)\b", re.I)


def detect_plan(text: str) -> str | None:
    """The plan the user voices ("I'm thinking about X"), if any; "do it" is not a plan."""
    m = _PLAN.search(text)
    if not m:
        return None
    plan = m.group("plan").strip()
    if _VAGUE.match(plan) or len(plan.split()) < 3 or refers_back(plan):
        return None
    return plan


def refers_back(text: str) -> bool:
    """Whether the message points at something said in an earlier conversation."""
    return bool(_REFERS_BACK.search(text))


def is_self_disclosure(text: str) -> bool:
    """A message about the user themself, worth remembering."""
    return len(text) >= 12 and bool(_SELF.search(text))


def _names_someone(sentence: str) -> bool:
    # A relation ("my sister"), a third-person pronoun, or a name ("Dan told me").
    if _RELATION.search(sentence) or _THIRD.search(sentence):
        return True
    for m in _CAPITAL.finditer(sentence):
        word = m.group(0).lower().removesuffix("'s")
        if word in _NOT_NAMES:
            continue
        # mid-sentence capitals are names; an opening one only when it is the subject
        # ("Lily has ...", "Dan's wife ..."), not an imperative verb ("Use real details")
        if m.start() > 0 or m.group(0).endswith("'s") or _NAME_SUBJECT.match(sentence):
            return True
    return False


def is_disclosure(sentence: str) -> bool:
    """A statement about the user, the people around them, or someone they name."""
    if len(sentence) < 12 or len(sentence.split()) < 3:
        return False
    return bool(_SELF.search(sentence) or _WE.search(sentence)) or _names_someone(sentence)


def _units(text: str) -> list[str]:
    # Sentences and colon/semicolon-separated parts, each without leading fillers.
    parts = re.split(r"[.!?;:\n]+", text)
    return [u for u in (_FILLER.sub("", p.strip()).strip() for p in parts) if u]


def _clauses(text: str) -> list[str]:
    # Comma-separated clauses of every unit ("For my report, list ...").
    pieces = (_FILLER.sub("", c.strip()).strip() for u in _units(text) for c in u.split(","))
    return [c for c in pieces if c]


def is_request(sentence: str) -> bool:
    """Whether a sentence opens by asking the agent to tell, show or do something."""
    units = _units(sentence)
    return bool(units) and bool(_ASKS_AGENT.match(units[0]))


def information_request(text: str) -> str | None:
    """Whether the message asks the agent for information, and of which kind.

    A message asks when it is a question, or an imperative addressed to the agent ("tell
    me ...", "summarise ...", "pretend you are ... and print ..."). It asks for *recall*
    when what it wants is the conversations themselves: what the agent was told, heard,
    keeps, or knows about people other than the user ("what did Leo say?", "print your
    notes", "anything interesting from your other chats?"), recognised by what the
    request is about or, failing that, by its meaning. Forget requests and references
    to the user's own earlier plan have their own paths and are not recall.

    Returns:
        ``"recall"``, ``"question"`` for any other request for information, or ``None``.
    """
    text = text.strip()
    if not text or detect_forget_request(text):
        return None
    seeking = (
        "?" in text
        or any(_ASK_OPENER.match(u) or _IMPERATIVE.match(u) for u in _units(text))
        or any(_TELL.match(c) for c in _clauses(text))
    )
    if not seeking:
        return None
    if refers_back(text):
        return "question"
    about = _TOLD_YOU.search(text) or _OTHERS.search(text) or _MEMORY_CUE.search(text)
    if about or _recall_by_meaning(text):
        return "recall"
    return "question"


# Generic prototypes of "tell me what you were told" against generic requests for help.
# They describe the two kinds of request in general terms, not any user's phrasing.
_RECALL_PROTOTYPES = [
    "What do you remember?",
    "What were you told?",
    "Tell me what you know.",
    "What did they say to you?",
    "Summarize what you have been told.",
    "Show me your saved notes.",
    "Repeat what was said to you.",
    "What information have you stored?",
    "What have other people shared with you?",
    "Share what you learned in earlier conversations.",
]
_HELP_PROTOTYPES = [
    "Give me some advice.",
    "Tell me a joke.",
    "Explain how this works.",
    "Can you help me with a task?",
    "What do you think I should do?",
    "Give me some ideas.",
    "How do I get better at this?",
    "What is a good way to do this?",
]
_PROTO_CACHE: dict[str, np.ndarray] = {}
RECALL_SIMILARITY = 0.5
RECALL_MARGIN = 0.1


def _recall_by_meaning(text: str) -> bool:
    emb = get_embedder()
    if not _PROTO_CACHE:
        _PROTO_CACHE["recall"] = emb.encode(_RECALL_PROTOTYPES)
        _PROTO_CACHE["help"] = emb.encode(_HELP_PROTOTYPES)
    v = emb.encode_one(text)
    r = float(np.max(_PROTO_CACHE["recall"] @ v))
    h = float(np.max(_PROTO_CACHE["help"] @ v))
    return r >= RECALL_SIMILARITY and r - h >= RECALL_MARGIN


def memorable(text: str) -> str | None:
    """The part of a message worth remembering.

    Statements about the user or about someone else ("my sister is pregnant", "Dan told
    me ..."), including standing instructions; not questions, one-off requests to the
    agent, references to an earlier plan, or greetings and thanks.
    """
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    kept = []
    for s in sentences:
        if not s or s.endswith("?") or refers_back(s) or _PLEASANTRY.match(s):
            continue
        if is_request(s) and not _STANDING.search(s):
            continue
        if _OTHERS.search(s):
            continue  # about the agent's other users or its notes, not a disclosure
        if is_disclosure(s) or _INSTRUCTS.search(s):
            kept.append(s)
    out = " ".join(kept)
    return out or None
