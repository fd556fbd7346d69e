#!/usr/bin/env bash
# make fuzz: run each libFuzzer harness for a bounded time, starting from
# its committed seeds. New inputs go to a scratch corpus, never into
# fuzz/corpus; a crash leaves its input in fuzz/crashes/ and fails.
set -euo pipefail
BUILD=${1:-build-fuzz}
SECS=${2:-30}
cd "$(dirname "$0")/.."
mkdir -p fuzz/crashes
status=0
for bin in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin"); parser=${name#fuzz_}
	scratch=$(mktemp -d)
	echo "== $name: ${SECS}s from fuzz/corpus/$parser"
	if ! "$bin" -max_total_time="$SECS" -max_len=8192 -artifact_prefix="fuzz/crashes/$parser-" \
		"$scratch" "fuzz/corpus/$parser" 2>&1 | grep -E '^(#[0-9]+ +DONE|==[0-9]+==ERROR|SUMMARY|Done)'; then
		:
	fi
	if ls fuzz/crashes/"$parser"-* >/dev/null 2>&1; then
		echo "!! $name found a crash: $(ls fuzz/crashes/"$parser"-*)"; status=1
	fi
	rm -rf "$scratch"
done
exit $status
