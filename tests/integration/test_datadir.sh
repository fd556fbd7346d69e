#!/usr/bin/env bash
# A damaged data dir is refused, never replaced: an empty (0 bytes) or a
# missing iotkdc.db stops `serve` and every command that opens the store
# with one line on stderr and nothing created; a data dir or file that
# group/other may write is refused with its mode; a page damaged in the
# middle of a real store is found by `serve` at start (quick_check),
# logged at error, and serve does not start; `init` does not reuse (or,
# failing, delete) a store it finds.
. "$(dirname "$0")/lib.sh"

kdc init >/dev/null
# free ports: a serve that wrongly started must not take the defaults
set_conf http port "$("$FREEPORT")"
set_conf coap port "$("$FREEPORT" udp)"
set_conf coap lwm2m_port "$("$FREEPORT" udp)"
for i in $(seq 1 400); do
	printf '{"id":"urn:dev:dd:%d","psk_identity":"dd%d","psk":"%032x"}\n' "$i" "$i" "$i"
done > "$T/m.jsonl"
kdc device import "$T/m.jsonl" >/dev/null
kdc audit verify >/dev/null || fail "fresh store does not verify"
DB=$T/d/iotkdc.db
[ ! -e "$DB-wal" ] || fail "the WAL outlived the last connection"
cp "$DB" "$T/good.db"

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/k.pem" -out "$T/csr.pem" 2>/dev/null

# Every command that opens the store (src/cli: ctx_open), serve included
# (bounded by timeout: a serve that started would be a failure, not a hang).
each_cmd() {
	local pat=$1
	expect_fail "$pat" timeout 20 "$IOTKDC" --dir "$T/d" serve
	expect_fail "$pat" kdc device list
	expect_fail "$pat" kdc device show urn:dev:dd:1
	expect_fail "$pat" kdc device add urn:dev:new --cert
	expect_fail "$pat" kdc device import "$T/m.jsonl"
	expect_fail "$pat" kdc device revoke urn:dev:dd:1
	expect_fail "$pat" kdc device delete urn:dev:dd:1
	expect_fail "$pat" kdc cred list
	expect_fail "$pat" kdc cred revoke 1
	expect_fail "$pat" kdc mfg-ca add m "$T/d/ca.pem"
	expect_fail "$pat" kdc cert sign "$T/csr.pem" --device urn:dev:dd:1
	expect_fail "$pat" kdc ca export
	expect_fail "$pat" kdc audit list
	expect_fail "$pat" kdc audit verify
	expect_fail "$pat" kdc lwm2m clients
	expect_fail "$pat" kdc tls reissue
}
no_sqlite_files() {
	for f in "$DB-wal" "$DB-shm" "$DB-journal"; do
		[ ! -e "$f" ] || fail "$1: $f was created"
	done
}

# ---- an empty iotkdc.db -------------------------------------------------
: > "$DB"
each_cmd 'iotkdc\.db: empty \(0 bytes\), not an iotkdc store'
[ -f "$DB" ] && [ "$(stat -c %s "$DB")" = 0 ] || fail "empty iotkdc.db was written to"
no_sqlite_files "empty iotkdc.db"
pass "empty iotkdc.db: serve and 15 commands refused with one line; still 0 bytes, nothing created"

# ---- a missing iotkdc.db ------------------------------------------------
rm -f "$DB"
each_cmd 'iotkdc\.db: missing'
[ ! -e "$DB" ] || fail "a command created iotkdc.db"
no_sqlite_files "missing iotkdc.db"
pass "missing iotkdc.db: serve and 15 commands refused with one line; nothing created"

cp "$T/good.db" "$DB"
chmod 600 "$DB"
kdc device show urn:dev:dd:400 >/dev/null || fail "restored store not usable"

# ---- modes --------------------------------------------------------------
mode_refused() {	# mode_refused MODE FILE PATTERN
	local old
	old=$(stat -c %a "$2")
	chmod "$1" "$2"
	expect_fail "$3" timeout 20 "$IOTKDC" --dir "$T/d" serve
	expect_fail "$3" kdc device list
	chmod "$old" "$2"
}
mode_refused 0777 "$T/d" "$T/d: data dir has mode 0777: group or other may write it"
mode_refused 0770 "$T/d" "$T/d: data dir has mode 0770"
mode_refused 0666 "$DB" "iotkdc\.db: mode 0666: group or other may write it"
mode_refused 0620 "$DB" "iotkdc\.db: mode 0620: group or other may write it"
mode_refused 0666 "$T/d/iotkdc.conf" "iotkdc\.conf: mode 0666: group or other may write it"
mode_refused 0644 "$T/d/wrap.key" "wrap\.key: mode 0644: group or other may read or write it"
mode_refused 0666 "$T/d/ca.key" "ca\.key: mode 0666"
mode_refused 0666 "$T/d/ca.pem" "ca\.pem: mode 0666"
mode_refused 0666 "$T/d/server.key" "server\.key: mode 0666"
mode_refused 0646 "$T/d/server.pem" "server\.pem: mode 0646"
# readable by others is not refused for the store (its secrets are wrapped)
chmod 0644 "$DB"
kdc device show urn:dev:dd:1 >/dev/null || fail "a 0644 iotkdc.db was refused"
chmod 0600 "$DB"
cmp -s "$DB" "$T/good.db" || fail "a refused command changed iotkdc.db"
pass "dir 0777/0770, iotkdc.db 0666/0620, conf, keys and certificates writable by group/other: refused naming the mode"

# ---- a store we may not write ------------------------------------------
# SQLite opens a file it may not write read-only, silently: reads work and
# every write fails. serve, and every command (tls reissue would replace
# the server key before its audit record failed), refuse it first. As root
# (who may write anything) the commands run as nobody on a data dir given
# to nobody.
AS=()
if [ "$(id -u)" = 0 ]; then
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
	chown -R 65534:65534 "$T/d"
	chmod 0711 "$T"		# nobody passes through to its data dir
fi
key0=$(sha256sum < "$T/d/server.key")
chmod 0400 "$DB"
expect_fail "iotkdc\.db: cannot read and write it \(Permission denied\)" timeout 20 "${AS[@]}" "$IOTKDC" --dir "$T/d" serve
expect_fail "iotkdc\.db: cannot read and write it" "${AS[@]}" "$IOTKDC" --dir "$T/d" tls reissue
expect_fail "iotkdc\.db: cannot read and write it" "${AS[@]}" "$IOTKDC" --dir "$T/d" device add urn:dev:ro --cert
chmod 0600 "$DB"
chmod 0500 "$T/d"
expect_fail "$T/d: cannot write in the data dir \(Permission denied\)" timeout 20 "${AS[@]}" "$IOTKDC" --dir "$T/d" serve
chmod 0700 "$T/d"
"${AS[@]}" "$IOTKDC" --dir "$T/d" device show urn:dev:dd:1 >/dev/null || fail "the data dir's owner was refused"
if [ "$(id -u)" = 0 ]; then
	chown -R 0:0 "$T/d"
	chmod 0700 "$T"
fi
[ "$(sha256sum < "$T/d/server.key")" = "$key0" ] || fail "a refused tls reissue replaced server.key"
cmp -s "$DB" "$T/good.db" || fail "a refused command changed iotkdc.db"
pass "iotkdc.db 0400, data dir 0500 (not ours to write): serve, tls reissue and device add refused naming it; server.key unchanged"

# ---- a damaged or foreign server.pem ---------------------------------------
# told as what it is, with the way out (it was "cannot listen on ...:
# address in use", after libmicrohttpd failed to load it)
cp "$T/d/server.pem" "$T/server.pem.good"
head -c "$(( $(stat -c %s "$T/server.pem.good") / 2 ))" "$T/server.pem.good" > "$T/d/server.pem"
expect_fail "server\.pem, server\.key: server\.pem is not a certificate chain that parses; 'iotkdc tls reissue' makes both again" \
	timeout 20 "$IOTKDC" --dir "$T/d" serve
"$IOTKDC" --dir "$T/e2" init >/dev/null 2>&1 || fail "a second data dir"
cp "$T/e2/server.pem" "$T/d/server.pem"
expect_fail "server\.pem, server\.key: the certificate is not server\.key's \(one of them is from another data dir\)" \
	timeout 20 "$IOTKDC" --dir "$T/d" serve
cp "$T/server.pem.good" "$T/d/server.pem"
# another data dir's wrap.key: the store's secrets do not open under it
cp "$T/d/wrap.key" "$T/wrap.key.good"
cp "$T/e2/wrap.key" "$T/d/wrap.key"
expect_fail "$T/d: wrap\.key and iotkdc\.db do not belong together: iotkdc\.db was made with another wrap\.key" kdc device list
expect_fail "$T/d: wrap\.key and ca\.key do not belong together: ca\.key was made with another wrap\.key" timeout 20 "$IOTKDC" --dir "$T/d" serve
cp "$T/wrap.key.good" "$T/d/wrap.key"
rm -rf "$T/e2"
pass "server.pem cut in half, another data dir's server.pem or wrap.key: serve (and device list) refuse naming it, with the way out"

# ---- init does not reuse a store it finds -------------------------------
mkdir -m 700 "$T/e"
cp "$T/good.db" "$T/e/iotkdc.db"
expect_fail "$T/e/iotkdc.db exists: not replacing it" "$IOTKDC" --dir "$T/e" init
cmp -s "$T/e/iotkdc.db" "$T/good.db" || fail "init touched the iotkdc.db it found"
[ ! -e "$T/e/wrap.key" ] && [ ! -e "$T/e/iotkdc.conf" ] || fail "refused init left files"
mkdir -m 777 "$T/f"
chmod 777 "$T/f"	# whatever the umask
expect_fail "$T/f: data dir has mode 0777" "$IOTKDC" --dir "$T/f" init
[ -z "$(ls -A "$T/f")" ] || fail "refused init left files in $T/f"
# an init that fails part way (here the file size limit stands in for a
# full disk: a write fails with EFBIG) leaves nothing, so the next one runs
mkdir -m 700 "$T/g"
rc=0
( trap '' XFSZ; ulimit -f 8; exec "$IOTKDC" --dir "$T/g" init ) > /dev/null 2> "$T/g.err" || rc=$?
[ "$rc" -ne 0 ] || fail "init under an 8 KiB file size limit succeeded"
grep -q 'iotkdc\.db' "$T/g.err" || fail "init's error does not name the store: $(cat "$T/g.err")"
[ -z "$(ls -A "$T/g")" ] || fail "a failed init left: $(ls -A "$T/g")"
"$IOTKDC" --dir "$T/g" init > /dev/null || fail "init after a failed one"
rm -rf "$T/g"
pass "init: an existing iotkdc.db and a 0777 dir refused, nothing made or changed; a failed init leaves nothing, the next runs"

# ---- the store's file moved away under a running serve ----------------------
# commits would go on into a file nobody reads again: health says 503
start_serve
U="https://127.0.0.1:$HTTPS_PORT"
req - GET /api/v1/health
want 200 "health"
mv "$DB" "$DB.away"
req - GET /api/v1/health
want 503 "health with iotkdc.db moved away"
wait_log "warn .*health check failed: the store's file was removed or replaced while open"
mv "$DB.away" "$DB"
req - GET /api/v1/health
want 200 "health with iotkdc.db back"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve exited non-zero on SIGTERM"
pass "iotkdc.db moved away under serve: health 503 and a warning naming it; back: 200"

# ---- an audit log that lost its tail ---------------------------------------
# Rows deleted with the meta head set back (or a log lost under a crash, or
# an older copy put back): the chain still verifies, audit.head (written
# by every command and by serve's sweep) does not match. serve refuses,
# audit verify says so; moving audit.head aside is the way out when an
# older copy was put back on purpose.
H="$T/anc"
"$IOTKDC" --dir "$H" init > /dev/null
for i in 1 2 3; do "$IOTKDC" --dir "$H" device add "urn:dev:h$i" --cert > /dev/null; done
grep -q '^iotkdc-audit-head-1 seq=4 ' "$H/audit.head" || fail "audit.head after init + 3 device add: $(cat "$H/audit.head")"
[ "$(stat -c %a "$H/audit.head")" = 600 ] || fail "audit.head mode $(stat -c %a "$H/audit.head")"
sqlite3 "$H/iotkdc.db" "DELETE FROM audit WHERE seq >= 3; UPDATE meta SET val = (SELECT seq || ':' || lower(hex(hash)) FROM audit WHERE seq = 2) WHERE key = 'audit_head'"
expect_fail "audit verify: record 4 and those after it are gone: $H/audit\.head names it" "$IOTKDC" --dir "$H" audit verify
expect_fail "$H: the audit log is behind its anchor: record 4 .*Not serving from it. If iotkdc\.db was put back from a backup on purpose, move $H/audit\.head aside" \
	timeout 20 "$IOTKDC" --dir "$H" serve
grep -q '^iotkdc-audit-head-1 seq=4 ' "$H/audit.head" || fail "audit.head moved back: $(cat "$H/audit.head")"
mv "$H/audit.head" "$T/audit.head.aside"
"$IOTKDC" --dir "$H" audit verify | grep -q 'audit chain ok: 2 records' || fail "audit verify after moving audit.head aside"
grep -q '^iotkdc-audit-head-1 seq=2 ' "$H/audit.head" || fail "no new anchor after moving it aside"
rm -rf "$H"
pass "audit tail cut with the meta head set back: audit verify and serve refuse naming audit.head; moved aside, a new anchor"

# ---- a missing as.key ------------------------------------------------------
# made again only for a data dir that never had one (made before ACE); a
# store that knows its AS key refuses, or tokens it signed would silently
# stop verifying
H="$T/askey"
"$IOTKDC" --dir "$H" init > /dev/null
pub0=$("$IOTKDC" --dir "$H" ace pubkey)
rm "$H/as.key"
expect_fail "$H/as\.key: missing, and this data dir had an ACE AS key .*restore it from a backup" timeout 20 "$IOTKDC" --dir "$H" serve
expect_fail "$H/as\.key: missing, and this data dir had an ACE AS key" "$IOTKDC" --dir "$H" ace pubkey
[ ! -e "$H/as.key" ] || fail "as.key made again"
# a data dir from before ACE (no fingerprint in its store): made, told
sqlite3 "$H/iotkdc.db" "DELETE FROM meta WHERE key = 'ace_as_key_spki_sha256'"
"$IOTKDC" --dir "$H" ace pubkey > "$T/pub1" 2> "$T/pub1.err" || fail "ace pubkey on a data dir from before ACE: $(cat "$T/pub1.err")"
grep -q "made the ACE AS key $H/as.key (this data dir predates ACE)" "$T/pub1.err" || fail "no word of the new AS key: $(cat "$T/pub1.err")"
[ "$(cat "$T/pub1")" != "$pub0" ] || fail "the same AS key?"
pass "as.key deleted: serve and ace pubkey refuse; made again (and told) only for a data dir from before ACE"

# the other keys and the CA, missing: named, with the way out
mv "$H/ca.pem" "$T/ca.pem.aside"
expect_fail "$H/ca\.pem: missing: the CA of this data dir; restore it from a backup" timeout 20 "$IOTKDC" --dir "$H" serve
mv "$T/ca.pem.aside" "$H/ca.pem"
mv "$H/ca.key" "$T/ca.key.aside"
expect_fail "$H/ca\.key: missing: the CA of this data dir" timeout 20 "$IOTKDC" --dir "$H" serve
mv "$T/ca.key.aside" "$H/ca.key"
rm "$H/wrap.key"
expect_fail "$H/wrap\.key: missing: it opens every secret of this data dir \(keys, PSKs\); restore it from a backup" "$IOTKDC" --dir "$H" device list
rm -rf "$H"
pass "ca.pem, ca.key, wrap.key missing: each named as missing, with the way out"

# ---- a damaged page ----------------------------------------------------
pages=$(sqlite3 "$DB" "PRAGMA page_count")
psize=$(sqlite3 "$DB" "PRAGMA page_size")
[ "$(sqlite3 "$DB" "PRAGMA freelist_count")" = 0 ] || fail "free pages: the damage could miss the tree"
[ "$pages" -gt 40 ] || fail "store too small to damage in the middle ($pages pages)"
victim=$((pages / 2))	# 0-based: page number victim+1
head -c "$psize" /dev/zero | tr '\0' '\377' |
	dd of="$DB" bs="$psize" seek="$victim" conv=notrunc status=none
# serve_refused: serve on the damaged store exits non-zero with one line
# on stderr, the damage and the way out at error
serve_refused() {
	local rc=0
	"$IOTKDC" --dir "$T/d" serve > "$T/serve.out" 2> "$T/serve.log" &
	SERVE_PID=$!
	PIDS+=("$SERVE_PID")
	for _ in $(seq 1 200); do	# until it exits or says it serves
		kill -0 "$SERVE_PID" 2>/dev/null || break
		grep -q "kdc_cli_serve: serving" "$T/serve.log" && break
		sleep 0.1
	done
	kill -0 "$SERVE_PID" 2>/dev/null && fail "serve started on a damaged store: $(tail -2 "$T/serve.log")"
	wait "$SERVE_PID" || rc=$?
	[ "$rc" -ne 0 ] || fail "serve exited 0 on a damaged store"
	[ "$(wc -l < "$T/serve.log")" -eq 1 ] || fail "want one line on stderr: $(cat "$T/serve.log")"
	grep -qE " error store_check: $T/d/iotkdc\.db is damaged \(quick_check: .*Page $((victim + 1))[: ].*not serving from it" "$T/serve.log" ||
		fail "damage not logged at error with the page: $(cat "$T/serve.log")"
	grep -q 'restore iotkdc.db from a backup' "$T/serve.log" || fail "no way out in: $(cat "$T/serve.log")"
}
sum0=$(sha256sum < "$DB")
serve_refused
[ "$(sha256sum < "$DB")" = "$sum0" ] || fail "serve changed the damaged store"
# the check serve's message points to finds the same damage
expect_fail "audit verify: $T/d/iotkdc\.db: damaged \(quick_check: .*Page $((victim + 1))[: ]" kdc audit verify
pass "page $((victim + 1)) of $pages damaged: serve logs it at error with the way out, exits non-zero, store unchanged"

# ---- the same damage, with commits still in the log ----------------------
# A writer that died before its checkpoint leaves frames in iotkdc.db-wal.
# serve's refusal must leave both files as found: the close of its last
# connection would otherwise copy the log into the damaged file and delete
# the log (what a salvage may need).
python3 - "$DB" <<'PY'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA wal_autocheckpoint = 0")
c.execute("INSERT INTO meta(key, val) VALUES('test-datadir', 'in the log')")
os._exit(0)	# no close: no checkpoint, the frames stay in the log
PY
[ -s "$DB-wal" ] || fail "no log left behind to test with"
sum0=$(sha256sum < "$DB"); wal0=$(sha256sum < "$DB-wal")
serve_refused
[ "$(sha256sum < "$DB")" = "$sum0" ] || fail "serve's refusal checkpointed the log into the damaged store"
[ -f "$DB-wal" ] && [ "$(sha256sum < "$DB-wal")" = "$wal0" ] || fail "serve's refusal changed or deleted the log"
pass "the same damage with commits in the log: iotkdc.db and iotkdc.db-wal left as found"
