#!/usr/bin/env bash
# One-time (idempotent) set-up on a fresh machine with Python 3.11 and Java 17:
# a project venv from the committed lock file, carelake installed editable,
# and the Delta + Derby jars resolved from Maven Central into .cache/jars.
# Later runs need no network.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
command -v java >/dev/null || { echo "setup: Java 17 is required (java not on PATH)" >&2; exit 2; }

if ! command -v uv >/dev/null; then
  echo "setup: installing uv (the package installer) with pip"
  "$PYTHON" -m pip install --quiet --user uv || "$PYTHON" -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
export UV_INDEX_STRATEGY=unsafe-best-match UV_LINK_MODE=copy

stamp=.venv/.carelake-installed
if [ ! -f "$stamp" ] || [ requirements.lock -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  [ -x .venv/bin/python ] || uv venv --quiet --python "$PYTHON" .venv
  echo "setup: installing dependencies from requirements.lock"
  uv pip install --quiet --python .venv/bin/python -r requirements.lock
  uv pip install --quiet --python .venv/bin/python --no-deps -e .
  touch "$stamp"
fi

# Bytecode compiled once here (~30 s on 2 cores), not again in every process: each CLI, dbt and Airflow process
# imports the same ~2,500 modules, and where PYTHONDONTWRITEBYTECODE is set (as on these machines) nothing caches
# them - `carelake validate` spent 10 of its 15 s of Python CPU compiling Great Expectations and pyspark.
compiled=.venv/.carelake-compiled
if [ ! -f "$compiled" ] || [ "$stamp" -nt "$compiled" ]; then
  echo "setup: compiling the installed packages to bytecode (once)"
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  .venv/bin/python -m compileall -q -j 0 "$site" >/dev/null 2>&1 || true  # a few packages ship unparsable test files
  touch "$compiled"
fi

if [ ! -f .cache/jars/.resolved ] || ! ls .cache/jars/org.postgresql_postgresql-*.jar >/dev/null 2>&1; then
  echo "setup: resolving Delta Lake, Derby and PostgreSQL JDBC jars from Maven Central (once)"
  .venv/bin/carelake setup
  touch .cache/jars/.resolved
fi

# PostgreSQL server binaries: the jdbc source test starts a throw-away server (initdb/pg_ctl, no service)
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's postgresql (server binaries for the jdbc source test)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "setup: PostgreSQL not found; install the Debian package 'postgresql' to run the jdbc source test" >&2
  fi
fi

# headless Chromium: the quality report test renders the monthly HTML report in a real browser
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Chromium (Debian package) for the report rendering test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: Chromium not found; install the Debian package 'chromium' (apt-get install chromium) to run the report rendering test" >&2
  fi
fi
