#!/usr/bin/env bash
# Starts a real OpenSearch 2.11 node (see pom.xml, EmbeddedOpenSearch.java):
#   run.sh HOME HTTP_PORT TRANSPORT_PORT
# Needs java (17) and mvn; jars come from Maven Central into ~/.m2 on first
# use; the classpath and the compiled launcher are cached in
# $SHOAL_OPENSEARCH_CACHE (default /tmp/shoal-opensearch-cache). exec's java,
# so the caller's pid is the node's pid.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
home="$1"; http="$2"; transport="$3"
cache="${SHOAL_OPENSEARCH_CACHE:-/tmp/shoal-opensearch-cache}"
mkdir -p "$cache" "$home"
if [[ ! -s "$cache/classpath.txt" || "$here/pom.xml" -nt "$cache/classpath.txt" ]]; then
  mvn -q -f "$here/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cache/classpath.txt.tmp" >&2
  mv "$cache/classpath.txt.tmp" "$cache/classpath.txt"
fi
cp="$(cat "$cache/classpath.txt")"
if [[ ! -f "$cache/classes/EmbeddedOpenSearch.class" || "$here/EmbeddedOpenSearch.java" -nt "$cache/classes/EmbeddedOpenSearch.class" ]]; then
  javac -cp "$cp" -d "$cache/classes" "$here/EmbeddedOpenSearch.java" >&2
fi
exec java -Xms256m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true \
  -cp "$cache/classes:$cp" EmbeddedOpenSearch "$home" "$http" "$transport"
