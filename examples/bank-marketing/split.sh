#!/usr/bin/env bash
# Splits a CSV file with a header row into N parts of consecutive rows,
# each with the header: split.sh FILE N OUTDIR
set -euo pipefail
file=$1 n=$2 out=$3
mkdir -p "$out"
rows=$(($(wc -l <"$file") - 1))
per=$(((rows + n - 1) / n))
for i in $(seq 1 "$n"); do
  { head -n 1 "$file"; tail -n +2 "$file" | sed -n "$(((i - 1) * per + 1)),$((i * per))p"; } >"$out/part$i.csv"
done
