#!/bin/sh
# One-shot (temporalio/admin-tools): once the Temporal server answers, creates autofix's namespace
# and registers its search attributes (all Keyword). Idempotent: existing ones are kept.
set -eu
ADDR=${TEMPORAL_ADDRESS:-temporal:7233}
NS=${TEMPORAL_NAMESPACE:-default}
RETENTION=${TEMPORAL_RETENTION:-30d}

i=0
until temporal operator cluster health --address "$ADDR" >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 60 ] || { echo "Temporal at $ADDR is not healthy"; exit 1; }
  sleep 2
done

if temporal operator namespace describe --address "$ADDR" -n "$NS" >/dev/null 2>&1; then
  echo "namespace $NS exists"
else
  temporal operator namespace create --address "$ADDR" -n "$NS" --retention "$RETENTION"
fi

for name in AutofixPattern AutofixSeverity AutofixOutcome AutofixHost AutofixTarget AutofixKind; do
  if temporal operator search-attribute list --address "$ADDR" -n "$NS" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --address "$ADDR" -n "$NS" --name "$name" --type Keyword
  fi
done
echo "namespace $NS and search attributes are ready"
