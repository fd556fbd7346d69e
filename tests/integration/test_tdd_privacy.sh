#!/usr/bin/env bash
# Thing Descriptions as personal data (issue 17 §2): user B cannot list,
# read, search, patch, delete or receive events about user A's TDs until A
# consents; a request without a valid credential never reaches the store
# (strace of the listener thread: no SQLite lock taken); withdrawn consent
# leaves no trace of the TD in the database files; a reader's read is
# audited without the TD's id.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || fail "strace missing (apt-get install strace)"
kdc init >/dev/null
kdc user add alice --group ops >/dev/null
kdc user add bob >/dev/null
kdc user add carol --group ops >/dev/null
kdc user add mallory >/dev/null
user_cert alice bob carol mallory
# a certificate of another CA, with a user's name
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/rogue.key" -subj "/CN=user.alice" -days 2 -out "$T/rogue.pem" 2>/dev/null
start_serve
U="https://127.0.0.1:$HTTPS_PORT"

J=(-H 'Content-Type: application/td+json')
MARK="secret-kitchen-$RANDOM$RANDOM"
cat > "$T/a.json" <<EOF
{"@context":"https://www.w3.org/2022/wot/td/v1.1","id":"urn:ex:$MARK","title":"$MARK",
 "securityDefinitions":{"b":{"scheme":"bearer","in":"header"}},"security":"b",
 "properties":{"t":{"type":"number","forms":[{"href":"https://10.1.2.3/t"}]}}}
EOF

curl -s -N -D "$T/evh_bob" --cacert "$T/ca.pem" --cert "$T/bob.pem" --key "$T/bob.key" \
    -H 'Last-Event-ID: 0' "$U/events?diff=true" > "$T/ev_bob" 2>/dev/null & PIDS+=($!)
curl -s -N -D "$T/evh_carol" --cacert "$T/ca.pem" --cert "$T/carol.pem" --key "$T/carol.key" \
    "$U/events" > "$T/ev_carol" 2>/dev/null & PIDS+=($!)
curl -s -N -D "$T/evh_alice" --cacert "$T/ca.pem" --cert "$T/alice.pem" --key "$T/alice.key" \
    "$U/events" > "$T/ev_alice" 2>/dev/null & PIDS+=($!)
# subscribed: each stream's headers are in (sent once the subscription exists)
for u in bob carol alice; do wait_line "$T/evh_$u" 'text/event-stream'; done
req alice PUT "/things/urn:ex:$MARK" "${J[@]}" --data-binary @"$T/a.json"
want 201 "alice registers"
wait_line "$T/ev_alice" '^event: thing_created'

# ---- B sees nothing of it ----------------------------------------------
req bob GET "/things/urn:ex:$MARK"
want 404 "bob reads alice's TD"
req bob GET /things
[ "$(cat "$T/b")" = "[]" ] || fail "bob's list: $(cat "$T/b")"
req bob GET /search/jsonpath -G --data-urlencode 'query=$[*].title'
[ "$(cat "$T/b")" = "[]" ] || fail "bob's search: $(cat "$T/b")"
req bob GET /search/jsonpath -G --data-urlencode 'query=$..title'
[ "$(cat "$T/b")" = "[]" ] || fail "bob's descendant search: $(cat "$T/b")"
req bob PATCH "/things/urn:ex:$MARK" -H 'Content-Type: application/merge-patch+json' --data '{"title":"x"}'
want 404 "bob patches"
req bob DELETE "/things/urn:ex:$MARK"
want 404 "bob deletes"
req bob GET "/consent/urn:ex:$MARK"
want 404 "bob reads the consent"
req bob PUT "/things/urn:ex:$MARK" "${J[@]}" --data-binary @"$T/a.json"
want 403 "bob replaces"
req alice GET "/things/urn:ex:$MARK"
[ "$(jq -r .title "$T/b")" = "$MARK" ] || fail "alice's TD changed"
pass "user B cannot list, read, search, patch, delete, replace or see the consent of A's TD (404, as for none; 403 for a taken id)"

# ---- consent to readers: group ops and bob ------------------------------
req alice PUT "/consent/urn:ex:$MARK" -H 'Content-Type: application/json' \
    --data '{"purpose":"kitchen ops","readers":["group:ops"],"retention":3600}'
want 204 "consent"
req carol GET "/things/urn:ex:$MARK"
want 200 "carol (group ops) reads"
req bob GET "/things/urn:ex:$MARK"
want 404 "bob still not a reader"
req mallory GET /search/jsonpath -G --data-urlencode 'query=$[*].title'
[ "$(cat "$T/b")" = "[]" ] || fail "mallory's search"
req carol PATCH "/things/urn:ex:$MARK" -H 'Content-Type: application/merge-patch+json' --data '{"title":"x"}'
want 403 "a reader patches"
req carol DELETE "/things/urn:ex:$MARK"
want 403 "a reader deletes"
req alice PATCH "/things/urn:ex:$MARK" -H 'Content-Type: application/merge-patch+json' --data '{"description":"d"}'
want 204 "alice patches"
wait_line "$T/ev_carol" '^event: thing_updated'
grep -q . "$T/ev_bob" && fail "bob received an event: $(cat "$T/ev_bob")"
pass "consent readers group:ops: carol reads and gets events, may not write (403); bob and mallory see nothing"
kdc audit list > "$T/audit"
grep -q 'tdd.read' "$T/audit" || fail "carol's read not audited"
grep 'tdd.read' "$T/audit" | grep -q 'via=event' || fail "carol's event not audited as a read"
grep 'tdd.read' "$T/audit" | grep -q 'user.carol' || fail "audit: reader not named"
grep -q "$MARK" "$T/audit" && fail "the audit names the TD's id"
pass "a read by someone other than the owner is audited (reader named, TD by number only)"

# ---- no credential, no store: strace of the listener thread -------------
mhd=""
for t in /proc/"$SERVE_PID"/task/*; do
	[ "$(cat "$t/comm")" = "MHD-single" ] && mhd=$(basename "$t")
done
[ -n "$mhd" ] || fail "no MHD listener thread"
trace() {	# trace FILE CMD...: the listener thread's fcntl calls on the db
	strace -qq -y -e trace=fcntl -o "$1" -p "$mhd" 2> "$T/strace.err" & local tp=$!
	PIDS+=("$tp")
	for _ in $(seq 1 100); do
		grep -q "^TracerPid:[[:space:]]*$tp\$" /proc/"$SERVE_PID"/task/"$mhd"/status && break
		sleep 0.05
	done
	shift; "$@"
	kill -TERM "$tp"; wait "$tp" 2>/dev/null || true
}
unauth() {
	for _ in $(seq 1 20); do
		req - GET /things; want 401 "no certificate"
		req - PUT "/things/urn:ex:$MARK" "${J[@]}" --data-binary @"$T/a.json"; want 401 "no certificate, with a body"
		req rogue GET /things; want 403 "another CA's certificate (the listener refuses it)"
	done
}
authd() { for _ in $(seq 1 5); do req carol GET /things; want 200 "carol lists"; done; }
trace "$T/tr_unauth" unauth
trace "$T/tr_auth" authd
n_un=$(grep -c 'iotkdc.db' "$T/tr_unauth" || true)
n_au=$(grep -c 'iotkdc.db' "$T/tr_auth" || true)
[ "$n_au" -gt 0 ] || fail "the probe sees no store access even for authenticated requests"
[ "$n_un" -eq 0 ] || fail "unauthenticated requests took $n_un SQLite locks: $(head -3 "$T/tr_unauth")"
grep -q 'WWW-Authenticate: Bearer' "$T/h" 2>/dev/null || true
pass "60 requests without a valid credential: 401, no SQLite lock on the listener thread (5 authenticated: $n_au)"

# ---- withdrawn consent leaves no trace ----------------------------------
grep -qa "$MARK" "$T/d/iotkdc.db" "$T/d/iotkdc.db-wal" || fail "probe: the mark is not in the files while stored"
req alice DELETE "/consent/urn:ex:$MARK"
want 204 "consent withdrawn"
req alice GET "/things/urn:ex:$MARK"
want 404 "erased"
wait_line "$T/ev_carol" '^event: thing_deleted'
# while the daemon runs (its connections open, the WAL in use) ...
for f in "$T/d/iotkdc.db" "$T/d/iotkdc.db-wal"; do
	grep -qa "$MARK" "$f" && fail "$(basename "$f") keeps the erased TD while serving"
done
# ... and after it stopped
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
for f in "$T/d/iotkdc.db" "$T/d/iotkdc.db-wal" "$T/d/iotkdc.db-shm"; do
	[ -f "$f" ] || continue
	grep -qa "$MARK" "$f" && fail "$(basename "$f") keeps the erased TD"
done
[ "$(sqlite3 "$T/d/iotkdc.db" 'SELECT count(*) FROM tdd_events')" = 0 ] || fail "events kept"
pass "withdrawn consent: the TD, its id and its events are gone from iotkdc.db, -wal and -shm"
