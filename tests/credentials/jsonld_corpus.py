"""Random JSON-LD documents over the bundled contexts, from a ``random.Random``.

Shared by the differential tests (``test_jsonld_compiled.py``, where hypothesis supplies the ``Random``) and by
``bench/credentials.py`` (a seeded corpus compared with Digital Bazaar's rdf-canonize):

- :func:`credential` - a credential every implementation accepts: alumni and W3C example vocabulary, Open Badges,
  status entries, unicode (control characters, combining marks, CJK, right-to-left, emoji), blank nodes (nodes
  without ``id``, ``_:`` labels shared between nodes, identical siblings), arrays, nested objects, numbers.
- :func:`scoped_document` - nodes typed with the classes whose type-scoped contexts the bundled contexts define
  (credentials, presentations, proofs, status entries, Open Badges, Multikey...), using their scoped terms at
  random depths - also where a type-scoped term is no longer in scope (nested untyped nodes).
- :func:`wild_document` - a credential with mistakes mixed in (undefined terms, keywords, value objects, nulls,
  relative IRIs, inline or unknown contexts, protected-term clashes, odd numbers, lone surrogates...), for the
  cases where the compiled path must fall back and the reference path decide.
"""

from __future__ import annotations

import copy
import random
from functools import cache
from typing import Any

from schemas.loader import bundled_context_urls, load_context

V2 = "https://www.w3.org/ns/credentials/v2"
V1 = "https://www.w3.org/2018/credentials/v1"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"
ALUMNI = "https://w3id.org/passerelle/alumni/v1"
OB = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
STATUS = "https://www.w3.org/ns/credentials/status/v1"
DI = "https://w3id.org/security/data-integrity/v2"

_ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,;:!?'()[]{}/#@&%+*=<>|^`~$",
    '"\\\t\n\r\b\f\x00\x01\x07\x0b\x1b\x1f\x7f',  # everything N-Quads escapes
    "éèàçœæÉÀÇßøåñüöäÿ\u00a0\u00ad",
    "αβγδΩЖЯжя北京東京서울",
    "مرحبا שלום",
    "e\u0301a\u0308\u200b\u200d\u2028\u2029\u2060",
    "😀🎓🏫𝔘𝕟𝕚",  # beyond the BMP; no pool has U+E000-U+FFFF, where rdf-canonize's UTF-16 order would differ
]
_ALUMNI_TERMS = ["alumniOf", "roleName", "degree", "programme", "classYear", "department", "name", "description",
                 "startDate", "groups"]
_ALUMNI_TYPES = ["Person", "Organization", "EducationalOrganization", "OrganizationRole", "EmployeeRole"]
_EXAMPLE_KEYS = ["alumniOf", "knows", "location", "addressLocality", "score", "tags", "note", "naïve", "größe"]
_CLASSES = ["VerifiableCredential", "VerifiablePresentation", "BitstringStatusListEntry", "DataIntegrityProof",
            "OpenBadgeCredential", "Achievement", "AchievementSubject", "Profile", "Result", "ResultDescription",
            "Person", "AlumniCredential", "JsonSchema", "Multikey"]
_TERMS = ["id", "type", "name", "description", "issuer", "credentialSubject", "credentialStatus", "validFrom",
          "validUntil", "proof", "evidence", "holder", "verifiableCredential", "proofPurpose", "verificationMethod",
          "created", "cryptosuite", "challenge", "domain", "statusPurpose", "statusListIndex",
          "statusListCredential", "statusMessage", "allowedValue", "achievement", "criteria", "narrative",
          "jsonSchema", "alumniOf", "groups", "startDate", "classYear", "foo", "cred:issued", "xsd:string",
          "https://schema.org/name", "_:b0", "", "@value", "@language", "@direction", "@list", "@set", "@graph",
          "@included", "@reverse", "@nest", "@index", "@json", "@vocab", "@id", "@type", "@context", "@foo"]
_CONTEXTS = [[V2], [V2, ALUMNI], [V2, EXAMPLES], [V2, ALUMNI, EXAMPLES], [V2, OB], [V2, OB, EXAMPLES],
             [V2, STATUS], [V2, DI], [V1], [V1, EXAMPLES], [V2, V1], V2, [ALUMNI], []]


def text(rng: random.Random, *, beyond_bmp: bool = True) -> str:
    """Mostly one script per string; now and then a mix, and characters beyond the BMP in some strings."""
    pools = _ALPHABETS if beyond_bmp and rng.random() < 0.15 else _ALPHABETS[:-1]
    if rng.random() < 0.6:
        pools = [pools[0], rng.choice(pools)]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randrange(0, 14)))


def iri(rng: random.Random) -> str:
    return rng.choice([
        f"did:example:{rng.randrange(10**6)}",
        f"urn:uuid:{rng.getrandbits(128):032x}",
        f"https://ecole.example/alumni/{rng.randrange(1000)}#{rng.choice(['a', 'é', 'x-1'])}",
        f"did:web:ecole.example:{rng.choice(['people', 'groups'])}",
        "https://vc.example/issuers/5678",
    ])


def number(rng: random.Random) -> int | float | bool:
    return rng.choice([
        rng.randrange(-10**6, 10**6), rng.choice([0, 1, -1, 2**53 - 1, 9007199254740991]),
        rng.choice([1.5, 0.1, -2.5e10, 123456.789, 3.0, -0.0, 1e21, 2.5e-5, 1e300]),
        round(rng.uniform(-1e6, 1e6), rng.randrange(0, 6)), rng.random() < 0.5,
    ])


def credential(rng: random.Random, *, beyond_bmp: bool = True) -> dict[str, Any]:
    """A random credential that safe-mode JSON-LD processors accept (see the module docstring)."""
    kind = rng.choice(["alumni", "examples", "examples", "alumni+examples", "open-badge"])
    vocab = "examples" in kind
    contexts = {"alumni": [V2, ALUMNI], "examples": [V2, EXAMPLES], "alumni+examples": [V2, ALUMNI, EXAMPLES],
                "open-badge": [V2, OB]}[kind]
    blanks = [f"_:b{n}" for n in range(rng.randrange(0, 3))]
    maker = _Maker(rng, vocab=vocab, alumni="alumni" in kind, blanks=blanks, beyond_bmp=beyond_bmp)
    document: dict[str, Any] = {"@context": contexts}
    if rng.random() < 0.8:
        document["id"] = iri(rng)
    document["type"] = ["VerifiableCredential", rng.choice(["AlumniCredential", "EmployeeAlumniCredential"])]
    document["issuer"] = iri(rng) if rng.random() < 0.5 else {"id": iri(rng), "name": maker.text()}
    document["validFrom"] = f"20{rng.randrange(10, 40)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}T00:00:00Z"
    for name in ("name", "description"):
        if rng.random() < 0.5:
            document[name] = maker.text()
    if kind == "open-badge":
        document["type"][1] = "OpenBadgeCredential"
        document["credentialSubject"] = maker.badge_subject()
    else:
        subjects = [maker.node(2) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        document["credentialSubject"] = subjects[0] if len(subjects) == 1 else subjects
    if rng.random() < 0.3:
        document["credentialStatus"] = [maker.status_entry() for _ in range(rng.randrange(1, 3))]
    return document


class _Maker:
    def __init__(self, rng: random.Random, *, vocab: bool, alumni: bool, blanks: list[str], beyond_bmp: bool):
        self.rng, self.vocab, self.alumni, self.blanks, self.beyond_bmp = rng, vocab, alumni, blanks, beyond_bmp

    def text(self) -> str:
        return text(self.rng, beyond_bmp=self.beyond_bmp)

    def node(self, depth: int) -> dict[str, Any]:
        rng = self.rng
        node: dict[str, Any] = {}
        roll = rng.random()
        if roll < 0.3:
            node["id"] = iri(rng)
        elif roll < 0.5 and self.blanks:
            node["id"] = rng.choice(self.blanks)
        if rng.random() < 0.5:
            types = rng.sample(_ALUMNI_TYPES if self.alumni else ["Person", "Thing", "Degree"], rng.randrange(1, 3))
            node["type"] = types[0] if len(types) == 1 and rng.random() < 0.5 else types
        keys = (_ALUMNI_TERMS if self.alumni else []) + (_EXAMPLE_KEYS if self.vocab else [])
        for key in rng.sample(keys, min(len(keys), rng.randrange(1, 5))):
            node[key] = self.value(key, depth)
        if self.vocab and rng.random() < 0.2:
            node["https://schema.org/award"] = self.text()
        return node

    def value(self, key: str, depth: int) -> Any:
        rng = self.rng
        if key == "classYear":
            return rng.randrange(1950, 2040)
        roll = rng.random()
        if depth > 0 and roll < 0.3:
            return self.node(depth - 1)
        if depth > 0 and roll < 0.45:
            count = rng.randrange(0, 4)
            if rng.random() < 0.3:  # identical siblings: blank nodes that only Hash N-Degree Quads tells apart
                return [copy.deepcopy(self.node(0))] * 2 if count else []
            return [self.leaf() if rng.random() < 0.5 else self.node(depth - 1) for _ in range(count)]
        if depth > 0 and roll < 0.5 and self.blanks:
            return {"id": rng.choice(self.blanks)}
        return self.leaf()

    def leaf(self) -> Any:
        return self.text() if self.rng.random() < 0.7 else number(self.rng)

    def status_entry(self) -> dict[str, Any]:
        rng = self.rng
        base = f"https://ecole.example/status/{rng.randrange(10)}"
        index = rng.randrange(131072)
        return {"id": f"{base}#{index}", "type": "BitstringStatusListEntry",
                "statusPurpose": rng.choice(["revocation", "suspension"]), "statusListIndex": str(index),
                "statusListCredential": base}

    def badge_subject(self) -> dict[str, Any]:
        rng = self.rng
        achievement: dict[str, Any] = {"id": iri(rng), "type": ["Achievement"], "achievementType": "Membership",
                                       "name": self.text(), "criteria": {"narrative": self.text()}}
        if rng.random() < 0.5:
            achievement["resultDescription"] = [{
                "id": iri(rng), "type": ["ResultDescription"], "name": self.text(), "resultType": "Status",
                "allowedValue": [self.text() for _ in range(rng.randrange(0, 4))],
            }]
        subject: dict[str, Any] = {"type": ["AchievementSubject"], "achievement": achievement}
        if rng.random() < 0.6:
            subject["id"] = iri(rng)
        if rng.random() < 0.5:
            subject["identifier"] = [{"type": "IdentityObject", "hashed": False, "identityHash": self.text(),
                                      "identityType": "name"}]
        return subject


DID_V1 = "https://www.w3.org/ns/did/v1"
MULTIKEY = "https://w3id.org/security/multikey/v1"
_SCOPED_CONTEXTS = [[V2], [V2, ALUMNI], [V2, OB], [V2, DI], [V2, STATUS], [V2, EXAMPLES], [V1], [V1, EXAMPLES],
                    [DID_V1, MULTIKEY], [V2, MULTIKEY], [MULTIKEY], [DI], [STATUS], [V2, DID_V1]]


@cache
def _definitions() -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
    """For every class term with a scoped context: its terms; and every term's definition (any context)."""
    scoped: dict[str, list[str]] = {}
    definitions: dict[str, dict[str, Any]] = {}

    def walk(context: dict[str, Any]) -> None:
        for term, definition in context.items():
            if term.startswith("@"):
                continue
            definitions.setdefault(term, definition if isinstance(definition, dict) else {"@id": definition})
            if isinstance(definition, dict) and isinstance(definition.get("@context"), dict):
                scoped.setdefault(term, []).extend(k for k in definition["@context"] if not k.startswith("@"))
                walk(definition["@context"])

    for url in sorted(bundled_context_urls(test_mode=True)):
        context = load_context(url, test_mode=True)["@context"]
        if isinstance(context, dict):
            walk(context)
    return scoped, definitions


def scoped_document(rng: random.Random) -> dict[str, Any]:
    """A document of typed nodes using their scoped terms (see the module docstring)."""
    contexts = rng.choice(_SCOPED_CONTEXTS)
    scoped, _ = _definitions()
    defined = {term for url in contexts for term in load_context(url, test_mode=True)["@context"]}
    classes = sorted(cls for cls in scoped if cls in defined) or sorted(scoped)
    document = _scoped_node(rng, 3, classes)
    document["@context"] = contexts
    return document


def _scoped_node(rng: random.Random, depth: int, classes: list[str]) -> dict[str, Any]:
    scoped, definitions = _definitions()
    node: dict[str, Any] = {}
    terms = ["name", "description", "id"]
    if rng.random() < 0.8:
        pool = classes if rng.random() < 0.9 else sorted(scoped)
        chosen = rng.sample(pool, min(len(pool), rng.choice([1, 1, 2])))
        node["type"] = chosen if len(chosen) > 1 or rng.random() < 0.5 else chosen[0]
        terms += [term for cls in chosen for term in scoped.get(cls, [])]
    for term in rng.sample(terms, min(len(terms), rng.randrange(1, 6))):
        if term in ("type",):
            continue
        coercion = definitions.get(term, {}).get("@type")
        node[term] = _scoped_value(rng, term, coercion, depth, classes)
    if "id" in node:
        node["id"] = iri(rng) if rng.random() < 0.8 else f"_:n{rng.randrange(3)}"
    return node


def _scoped_value(rng: random.Random, term: str, coercion: Any, depth: int, classes: list[str]) -> Any:
    scoped, _ = _definitions()
    if coercion == "@vocab":
        return rng.choice(scoped.get(term, []) + ["assertionMethod", "sec:assertionMethod", iri(rng)])
    if coercion == "@id" and rng.random() < 0.6:
        return iri(rng) if rng.random() < 0.7 else [iri(rng), iri(rng)]
    if depth > 0 and rng.random() < 0.4:
        nested = [_scoped_node(rng, depth - 1, classes) for _ in range(rng.randrange(1, 3))]
        return nested[0] if len(nested) == 1 else nested
    if isinstance(coercion, str) and coercion.endswith("dateTime"):
        return f"20{rng.randrange(10, 40)}-01-01T00:00:00Z"
    return text(rng, beyond_bmp=False) if rng.random() < 0.7 else number(rng)


def wild_document(rng: random.Random) -> Any:
    """A :func:`credential` with one to four mistakes or unusual constructs mixed in at random places."""
    document: Any = credential(rng)
    for _ in range(rng.randrange(1, 5)):
        document = _mutate(rng, document)
    return document


def _mutate(rng: random.Random, document: Any) -> Any:
    nodes = _dicts(document)
    target = rng.choice(nodes) if nodes else document
    roll = rng.random()
    if not isinstance(target, dict):
        return document
    if roll < 0.15:
        target["@context"] = rng.choice(_CONTEXTS + [[V2, {"name": "https://evil.example/n"}], [V2, None],
                                                     ["http://169.254.169.254/"], "urn:x"])
    elif roll < 0.3:
        target["type"] = rng.sample(_CLASSES, rng.randrange(0, 3)) + ([text(rng)] if rng.random() < 0.2 else [])
    elif roll < 0.7:
        target[rng.choice(_TERMS)] = _wild_value(rng)
    elif roll < 0.8 and target:
        del target[rng.choice(list(target))]
    elif roll < 0.9:
        target["id"] = rng.choice(["relative", "#frag", "_:x", "_:", "@id", "did:example:a b", "xsd:string",
                                   "cred:thing", "https://e.example/\ud800", 5, None, iri(rng)])
    else:
        target["proofPurpose"] = rng.choice(["assertionMethod", "authentication", "foo", "sec:x", 1])
    return document


def _wild_value(rng: random.Random) -> Any:
    return rng.choice([
        None, [], [[1, 2]], [None], {}, {"@value": text(rng)}, {"@value": None}, {"@value": "x", "@language": "fr"},
        {"@value": "x", "@language": "not a tag"}, {"@language": "en"}, {"@list": [1, "a"]}, {"@set": ["a"]},
        {"@graph": [{"id": iri(rng)}]}, {"@id": "relative"}, {"id": iri(rng), "@reverse": {}},
        {"@value": {"a": 1}, "@type": "@json"}, {"a": [1, {"@context": "urn:x"}]}, {"@id": "_:b0"},
        text(rng), number(rng), float("nan"), float("inf"), 1e-7, 2**60, 3.0, "\ud800", "😀\uff5e",
        iri(rng), "assertionMethod", "xsd:string", "cred:x", "_:b1", ("tuple",), {1: "x"},
        [text(rng), {"name": text(rng)}, number(rng)], {"type": rng.choice(_CLASSES), "name": text(rng)},
    ])


def _dicts(value: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(v for k, v in item.items() if k != "@context")
        elif isinstance(item, list):
            stack.extend(item)
    return found
