#!/bin/sh
# A real deploy script for the command provider: echoes its arguments one per line,
# then behaves as the ref asks (fail-*, slow-*), so tests can see each outcome.
echo "service=$1"
echo "env=$2"
echo "ref=$3"
echo "argc=$#"
case "$3" in
  fail*) echo "boom: migrations failed" ; exit 3 ;;
  slow*) sleep 5 ;;
esac
echo "deployed"
