#!/usr/bin/env bash
# Install the Debian packages citygrid needs beyond Python and Node:
# PostgreSQL server + PostGIS (local cluster), Chromium (browser tests), CJK fonts (screenshots).
# As root it installs what is missing; otherwise it prints the apt-get line to run.
set -euo pipefail

missing=()
pg_major=""
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  pg_major=$(ls -d /usr/lib/postgresql/*/bin/initdb | sed -E 's#.*/postgresql/([0-9]+)/bin/initdb#\1#' | sort -n | tail -1)
else
  missing+=(postgresql)
fi
if [ -n "$pg_major" ] && [ ! -f "/usr/share/postgresql/$pg_major/extension/postgis.control" ]; then
  missing+=("postgresql-$pg_major-postgis-3")
elif [ -z "$pg_major" ]; then
  missing+=(postgresql-postgis)
fi
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
command -v npm >/dev/null 2>&1 || missing+=(npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "citygrid needs these Debian packages: ${missing[*]}" >&2
  echo "install them with:  sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
