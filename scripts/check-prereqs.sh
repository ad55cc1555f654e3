#!/usr/bin/env bash
# Checks the tools a fresh machine needs before `make` installs anything, with the fix for each.
set -u
fail=0
need() { echo "missing prerequisite: $1" >&2; echo "  fix: $2" >&2; fail=1; }

py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null; then
  need "Python 3.11+" "install Python 3.11 or newer (or run make PYTHON=/path/to/python3.11)"
elif ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  need "Python 3.11+ (found $("$py" --version 2>&1))" "install Python 3.11 or newer (or run make PYTHON=/path/to/python3.11)"
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  need "Node.js 18+ with npm (the CDK runs on Node)" "install Node.js 18 or newer from your package manager"
elif [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
  need "Node.js 18+ (found $(node --version))" "install Node.js 18 or newer"
fi
if ! command -v java >/dev/null; then
  need "Java 17+ (DynamoDB Local runs on it)" "install a JDK/JRE 17 or newer (e.g. apt-get install openjdk-17-jre-headless); or use --engine moto"
else
  jv=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  if [ -n "$jv" ] && [ "$jv" -lt 17 ]; then need "Java 17+ (found $jv)" "install a JDK/JRE 17 or newer"; fi
fi
exit $fail
