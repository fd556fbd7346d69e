#!/usr/bin/env bash
# A real WoT client we did not write against the Thing Directory: Eclipse
# Thingweb node-wot 0.9.2 (@node-wot/core + @node-wot/binding-http) fetches
# the directory's TD from /.well-known/wot without a certificate, consumes
# it as is (node-wot validates it against the TD 1.1 JSON Schema of
# wot-thing-description-types 1.1.0-12-March-2025, forced by an npm
# override: node-wot's own range resolves to the stale 2021 schema,
# docs/traps.md), then drives createThing, retrieveThing, readProperty
# things, WoT.exploreDirectory, partiallyUpdateThing, updateThing,
# createAnonymousThing and deleteThing over TLS 1.3 with a person's client
# certificate (`iotkdc user cert`). A second person's node-wot client sees
# none of the first one's TDs.
#
# Client certificates: node-wot 0.9.2 has no setting for them (its
# HttpClient makes its own https.Agent with rejectUnauthorized only, not
# https.globalAgent). nodewot/client.js subclasses HttpClient and, in its
# protected _fetch(), puts on each request an https.Agent with the user's
# certificate and key, the KDC CA as the only trust anchor and TLS 1.3;
# the rest is node-wot's code. See client.js's header.
#
# The npm packages (pinned in tests/integration/nodewot/package-lock.json)
# are installed once into $KDC_BUILD_DIR/nodewot and reused while the lock
# file is unchanged; the npm registry is the only network access.
. "$(dirname "$0")/lib.sh"
: "${KDC_SOURCE_DIR:?run through ctest}"
: "${KDC_BUILD_DIR:?run through ctest}"
command -v node >/dev/null && command -v npm >/dev/null ||
	fail "node and npm are needed (make deps: nodejs npm)"

SRC="$KDC_SOURCE_DIR/tests/integration/nodewot"
NW="$KDC_BUILD_DIR/nodewot"
mkdir -p "$NW"
if ! cmp -s "$SRC/package-lock.json" "$NW/installed.lock" ||
    ! cmp -s "$SRC/package.json" "$NW/installed.json"; then
	rm -rf "$NW/node_modules" "$NW/installed.lock" "$NW/installed.json"
	cp "$SRC/package.json" "$SRC/package-lock.json" "$NW/"
	( cd "$NW" && timeout 240 npm ci --ignore-scripts --no-audit --no-fund \
		--loglevel=error ) > "$T/npm.log" 2>&1 ||
		fail "npm ci node-wot: $(tail -n 5 "$T/npm.log")"
	# the stamps last: an interrupted install is redone next time
	cp "$SRC/package.json" "$NW/installed.json"
	cp "$SRC/package-lock.json" "$NW/installed.lock"
fi
cp "$SRC/client.js" "$NW/client.js"
# what npm installed is what the lock pins, the schema override included
v=$(node -p 'require(process.argv[1] + "/node_modules/@node-wot/core/package.json").version + " " +
    require(process.argv[1] + "/node_modules/@node-wot/binding-http/package.json").version + " " +
    require(process.argv[1] + "/node_modules/wot-thing-description-types/package.json").version' "$NW")
[ "$v" = "0.9.2 0.9.2 1.1.0-12-March-2025" ] || fail "installed versions: $v"

kdc init >/dev/null
kdc user add alice >/dev/null
kdc user add bob >/dev/null
user_cert alice bob
start_serve
U="https://127.0.0.1:$HTTPS_PORT"
# the directory's TD names its base from [http] address; node-wot resolves
# every form against it: loopback here
set +e
timeout 60 node "$NW/client.js" "$U" "$T/ca.pem" "$T/alice.pem" "$T/alice.key" \
    "$T/bob.pem" "$T/bob.key" > "$T/nw.out" 2> "$T/nw.err"
rc=$?
set -e
cat "$T/nw.out"
[ $rc = 0 ] || fail "node-wot client exit $rc: $(grep -v '^\s*$' "$T/nw.err" | tail -n 20)"

# every step the script asserts printed its line, in order
want=(
	'requestThingDescription\(/.well-known/wot\) without a certificate: .* consumed'
	'readProperty things without a client certificate refused \(Client error: Unauthorized\)'
	'createThing x2 .*retrieveThing: "Lamp 1", Enriched TD'
	'readProperty things: 2 TDs, ordered by id'
	'exploreDirectory: 2 TDs \(Lamp 1, Lamp 2\)'
	'partiallyUpdateThing \(PATCH merge-patch\+json\)'
	'updateThing \(PUT of an existing id\): "Lamp 2 replaced"'
	'createAnonymousThing \(POST\): new id urn:uuid:[0-9a-f-]{36} in the list'
	'second user: things \[\] and exploreDirectory \[\] of A.s 3'
	'deleteThing x3: A.s list \[\], retrieve 404'
	'tls: [0-9]+ connections, all TLSv1.3, server certificate verified'
)
[ "$(grep -c '^ok: ' "$T/nw.out")" = ${#want[@]} ] ||
	fail "want ${#want[@]} ok lines: $(cat "$T/nw.out")"
i=0
while IFS= read -r line; do
	[[ "$line" =~ ^ok:\ ${want[$i]} ]] || fail "line $((i + 1)) '$line' does not match /${want[$i]}/"
	i=$((i + 1))
done < <(grep '^ok: ' "$T/nw.out")
grep -q '^FAIL' "$T/nw.err" && fail "script failed: $(cat "$T/nw.err")"
pass "node-wot 0.9.2: directory TD consumed, CRUDL + exploreDirectory + merge patch + anonymous over TLS 1.3 mTLS, second user sees nothing"

# the daemon saw them as the two people: their requests are in its log
# and nothing of A's is left (the script deleted all three)
[ "$(sqlite3 "$T/d/iotkdc.db" 'SELECT count(*) FROM tdd_things' 2>/dev/null)" = 1 ] ||
	fail "store: want only bob's TD left, have $(sqlite3 "$T/d/iotkdc.db" 'SELECT count(*) FROM tdd_things' 2>&1)"
pass "store: only the second user's TD remains"
