"""Operations: what the pipeline did and how the platform is doing.

- :mod:`carelake.operations.runs` records every pipeline step run in ``ops.pipeline_runs``;
- :mod:`carelake.operations.indicators` loads the indicator definitions (``metadata/operations/indicators.yml``);
- :mod:`carelake.operations.thresholds` turns a value into a red / amber / green status;
- :mod:`carelake.operations.measures` computes the named measures that are not SQL (storage, backups);
- :mod:`carelake.operations.evaluate` evaluates every indicator on the lake (``ops.indicator_values``);
- :mod:`carelake.operations.dashboard` renders the self-contained HTML page (``carelake dashboard``);
- :mod:`carelake.operations.serve` serves it on 127.0.0.1.
"""
