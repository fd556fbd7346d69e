#!/usr/bin/env bash
# The Thing Directory (W3C WoT Discovery REC 2023-12-05, §7.3.2) against
# the real daemon, through curl with client certificates issued by
# `iotkdc user cert`. Each check names the W3C assertion it proves.
. "$(dirname "$0")/lib.sh"

kdc init >/dev/null
set_conf kdc sweep_seconds 1
kdc user add alice --group ops >/dev/null
kdc user add bob >/dev/null
kdc user add carol --group ops >/dev/null
user_cert alice bob carol
start_serve
U="https://127.0.0.1:$HTTPS_PORT"

td() {	# td ID TITLE: a valid TD 1.1 on https with basic auth
	cat <<EOF
{"@context":"https://www.w3.org/2022/wot/td/v1.1","id":"$1","title":"$2",
 "securityDefinitions":{"basic_sc":{"scheme":"basic","in":"header"}},
 "security":"basic_sc",
 "properties":{"status":{"type":"string","forms":[{"href":"https://lamp.example.com/status"}]}}}
EOF
}
J=(-H 'Content-Type: application/td+json')

# ---- create, retrieve -------------------------------------------------
td urn:ex:lamp-1 "Lamp 1" > "$T/l1.json"
req alice PUT /things/urn:ex:lamp-1 "${J[@]}" --data-binary @"$T/l1.json"
want 201 "tdd-things-create-known-td"
pass "tdd-things-create-known-td, tdd-things-create-known-td-resp: PUT /things/{id} 201"

req alice GET /things/urn%3Aex%3Alamp-1
want 200 "tdd-things-retrieve"
[ "$(hdr content-type)" = "application/td+json" ] || fail "retrieve content type $(hdr content-type)"
[ "$(jq -r .title "$T/b")" = "Lamp 1" ] || fail "retrieve body"
pass "tdd-things-retrieve, tdd-things-retrieve-resp, tdd-things-retrieve-resp-content-type (id percent-decoded)"

jq -e '."@context" | index("https://www.w3.org/2022/wot/discovery")' "$T/b" >/dev/null || fail "no discovery context"
pass "tdd-context-injection: the Enriched TD has the Discovery context"
for k in created modified expires retrieved; do
	v=$(jq -r ".registration.$k" "$T/b")
	[[ "$v" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$ ]] || fail "registration.$k = $v"
done
pass "tdd-absolute-time: created, modified, expires, retrieved are RFC 3339 with an offset"

# curl -I writes the headers where the body would go: no JSON there
req alice HEAD /things/urn:ex:lamp-1
want 200 "tdd-http-head"
grep -q '"title"' "$T/b" && fail "HEAD sent a body"
[ -n "$(hdr content-length)" ] || fail "HEAD without Content-Length"
pass "tdd-http-head: HEAD /things/{id} gives the headers only"

# anonymous
cat > "$T/anon.json" <<'EOF'
{"@context":"https://www.w3.org/2022/wot/td/v1.1","title":"anon",
 "securityDefinitions":{"nosec_sc":{"scheme":"nosec"}},"security":"nosec_sc"}
EOF
req alice POST /things "${J[@]}" --data-binary @"$T/anon.json"
want 201 "tdd-things-create-anonymous-td"
loc=$(hdr location)
[[ "$loc" =~ ^/things/urn%3Auuid%3A[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "Location $loc"
anon_id=$(jq -r .id "$T/b")
pass "tdd-things-create-anonymous-td, -resp, tdd-anonymous-td-local-uuid: 201 + Location with a urn:uuid v4"
req alice GET "$loc"
want 200 "anonymous retrieve"
[ "$(jq -r .id "$T/b")" = "$anon_id" ] || fail "anonymous TD exposed without its id"
pass "tdd-anonymous-td-identifier: the anonymous TD is served with its new id"
req alice POST /things "${J[@]}" --data-binary @"$T/l1.json"
want 400 "POST with an id"
req alice PUT /things/urn:ex:noid "${J[@]}" --data-binary @"$T/anon.json"
want 400 "PUT without id"
pass "tdd-things-create-known-vs-anonymous: POST with an id and PUT without one are 400"

# ---- update, patch -------------------------------------------------------
td urn:ex:lamp-1 "Lamp 1b" > "$T/l1b.json"
req alice PUT /things/urn:ex:lamp-1 "${J[@]}" --data-binary @"$T/l1b.json"
want 204 "tdd-things-update"
req alice GET /things/urn:ex:lamp-1
[ "$(jq -r .title "$T/b")" = "Lamp 1b" ] || fail "update not kept"
pass "tdd-things-update, tdd-things-update-resp: PUT of an existing TD 204"

req alice PATCH /things/urn:ex:lamp-1 -H 'Content-Type: application/json' --data '{"title":"x"}'
want 415 "PATCH without merge-patch type"
req alice PATCH /things/urn:ex:lamp-1 -H 'Content-Type: application/merge-patch+json' \
    --data '{"title":"Lamp P","description":"patched","properties":{"status":{"readOnly":true}}}'
want 204 "tdd-things-update-partial"
req alice GET /things/urn:ex:lamp-1
[ "$(jq -r '.title + "|" + .description + "|" + (.properties.status.readOnly|tostring) + "|" + .properties.status.forms[0].href' "$T/b")" = \
    "Lamp P|patched|true|https://lamp.example.com/status" ] || fail "merge patch result: $(cat "$T/b")"
pass "tdd-things-update-partial, -mergepatch, -contenttype, -partialtd, -resp: RFC 7396 applied, 204; other types 415"
req alice PATCH /things/urn:ex:lamp-1 -H 'Content-Type: application/merge-patch+json' --data '{"security":null}'
want 400 "patch that breaks the TD"
jq -e '.validationErrors | length > 0' "$T/b" >/dev/null || fail "patched TD not validated"
pass "a patch's result is validated (400 with validationErrors)"

# ---- validation -------------------------------------------------------------
req alice PUT /things/urn:ex:bad "${J[@]}" --data '{"id":"urn:ex:bad","title":5}'
want 400 "tdd-validation-syntactic"
[ "$(hdr content-type)" = "application/problem+json" ] || fail "problem type"
jq -e '.status == 400 and (.validationErrors | map(select(.field == "title" and (.description | test("string")))) | length == 1) and (.validationErrors | map(select(.description == "security is required")) | length == 1)' "$T/b" >/dev/null ||
    fail "validationErrors: $(cat "$T/b")"
pass "tdd-validation-syntactic, -jsonschema, -result, -response: 400 problem+json with validationErrors [{field, description}]"
cat > "$T/unres.json" <<'EOF'
{"@context":"https://www.w3.org/2022/wot/td/v1.1","id":"urn:ex:unres","title":"u",
 "securityDefinitions":{"a":{"scheme":"nosec"}},"security":"missing_sc"}
EOF
req alice PUT /things/urn:ex:unres "${J[@]}" --data-binary @"$T/unres.json"
want 400 "security name not in securityDefinitions"
jq -e '.validationErrors | length > 0' "$T/b" >/dev/null || fail "spot check: $(cat "$T/b")"
pass "TD spot check: a security name must resolve to securityDefinitions"
req alice PUT /things/urn:ex:dup "${J[@]}" --data '{"id":"urn:ex:dup","id":"urn:ex:dup"}'
want 400 "duplicate member"
req alice PUT /things/urn:ex:lamp-1 --data-binary @"$T/l1.json" -H "Content-Type: text/plain"
want 415 "text/plain TD"
req alice PUT "/things/not%20an%20iri" "${J[@]}" --data '{"@context":"https://www.w3.org/2022/wot/td/v1.1","id":"not an iri","title":"x","securityDefinitions":{"n":{"scheme":"nosec"}},"security":"n"}'
want 400 "an id that is not an IRI"
pass "tdd-http-error-response: duplicate members 400, wrong media type 415, an id that is not an IRI 400, all problem+json"

# ---- listing, pagination ------------------------------------------------------
for i in 3 1 2; do
	td "urn:ex:p-$i" "P $i" > "$T/p.json"
	req alice PUT "/things/urn:ex:p-$i" "${J[@]}" --data-binary @"$T/p.json"
	want 201 "p-$i"
done
req alice GET /things
want 200 "tdd-things-list-method"
[ "$(hdr content-type)" = "application/ld+json" ] || fail "list type $(hdr content-type)"
ids=$(jq -r '.[].id' "$T/b" | tr '\n' ' ')
sorted=$(jq -r '.[].id' "$T/b" | LC_ALL=C sort | tr '\n' ' ')
[ "$ids" = "$sorted" ] || fail "not ordered by id: $ids"
[ "$(jq length "$T/b")" -eq 5 ] || fail "list length $(jq length "$T/b")"
pass "tdd-things-list-method, -resp, -resp-content-type, tdd-things-list-pagination-order-default: all 5, by id"
req alice GET "/things?limit=2"
want 200 "limit"
[ "$(jq length "$T/b")" -eq 2 ] || fail "limit 2 gave $(jq length "$T/b")"
links=$(hdr link | tr '\n' ' ')
[[ "$links" == *'</things?offset=2&limit=2>; rel="next"'* ]] || fail "next link: $links"
[[ "$links" =~ \</things\>\;\ rel=\"canonical\"\;\ etag=\"[^\"]+\" ]] || fail "canonical link: $links"
pass "tdd-things-list-pagination-limit, -header-nextlink, -nextlink-attr, -header-canonicallink"
req alice GET "/things?offset=4&limit=2"
[ "$(jq length "$T/b")" -eq 1 ] || fail "last page"
[[ "$(hdr link)" != *next* ]] || fail "next link on the last page"
req alice GET "/things?limit=2&format=collection"
jq -e '."@type" == "ThingCollection" and .total == 5 and (.members | length) == 2 and (.next | test("offset=2"))' "$T/b" >/dev/null || fail "collection: $(head -c 300 "$T/b")"
pass "tdd-things-list-pagination-collection: format=collection"
req alice GET "/things?limit=0"
want 400 "limit=0"
req alice GET "/things?sort_by=title"
want 400 "sort_by=title"
req alice PATCH /things -H 'Content-Type: application/merge-patch+json' --data '{}'
want 405 "PATCH /things"
req alice GET /search/sparql --data-urlencode 'query=SELECT * WHERE {?s ?p ?o}' -G
want 501 "sparql"
req alice GET /search/xpath -G --data-urlencode 'query=//title'
want 501 "xpath"
pass "tdd-http-unsupported-feature: bad arguments 400, PATCH /things 405, XPath and SPARQL 501"

# ---- search -------------------------------------------------------------------
req alice GET /search/jsonpath -G --data-urlencode 'query=$[?(@.title == "P 2")].id'
want 200 "tdd-search-jsonpath"
[ "$(jq -c . "$T/b")" = '["urn:ex:p-2"]' ] || fail "jsonpath: $(cat "$T/b")"
[ "$(hdr content-type)" = "application/json" ] || fail "search type"
pass "tdd-search-jsonpath, -method, -parameter, -response: a filter over the TDs"
req alice GET /search/jsonpath -G --data-urlencode 'query=$[?(@.properties.status && @.description)].title'
[ "$(jq -c . "$T/b")" = '["Lamp P"]' ] || fail "jsonpath &&: $(cat "$T/b")"
req alice GET /search/jsonpath -G --data-urlencode 'query=$..nothing_here'
[ "$(jq -c . "$T/b")" = '[]' ] || fail "descendant"
req alice GET /search/jsonpath -G --data-urlencode 'query=$[?(@.title ==]'
want 400 "bad jsonpath"
pass "JSONPath: && filter, descendant, a syntax error is 400"

# ---- events --------------------------------------------------------------------
curl -s -N -D "$T/evh_all" --cacert "$T/ca.pem" --cert "$T/alice.pem" --key "$T/alice.key" \
    "$U/events?diff=true" > "$T/ev_all" 2>/dev/null & PIDS+=($!)
curl -s -N -D "$T/evh_del" --cacert "$T/ca.pem" --cert "$T/alice.pem" --key "$T/alice.key" \
    "$U/events/thing_deleted" > "$T/ev_del" 2>/dev/null & PIDS+=($!)
curl -s -N -D "$T/ev_h" --cacert "$T/ca.pem" --cert "$T/alice.pem" --key "$T/alice.key" \
    -H 'Last-Event-ID: 0' "$U/events" > "$T/ev_replay" 2>/dev/null & PIDS+=($!)
wait_line "$T/ev_replay" '^event: thing_created' 5
wait_line "$T/ev_h" 'text/event-stream'
# subscribed: a stream's headers are sent once its subscription exists
wait_line "$T/evh_all" 'text/event-stream'
wait_line "$T/evh_del" 'text/event-stream'
td urn:ex:ev "Ev" > "$T/ev.json"
req alice PUT /things/urn:ex:ev "${J[@]}" --data-binary @"$T/ev.json"
want 201 "ev create"
req alice PATCH /things/urn:ex:ev -H 'Content-Type: application/merge-patch+json' --data '{"title":"Ev2"}'
want 204 "ev patch"
req alice DELETE /things/urn:ex:ev
want 204 "tdd-things-delete"
req alice GET /things/urn:ex:ev
want 404 "deleted TD"
pass "tdd-things-delete, tdd-things-delete-resp: 204, then 404"
wait_line "$T/ev_all" '^event: thing_deleted'
wait_line "$T/ev_del" '^event: thing_deleted'
wait_line "$T/ev_replay" '^event: thing_deleted'
data() { awk -v e="$2" '$0 == "event: " e { getline; sub(/^data: /, ""); print; exit }' "$1"; }
[ "$(data "$T/ev_all" thing_created | jq -r '.id + "|" + .title')" = "urn:ex:ev|Ev" ] || fail "create diff: $(cat "$T/ev_all")"
[ "$(data "$T/ev_all" thing_updated | jq -c .)" = '{"title":"Ev2","id":"urn:ex:ev"}' ] || fail "update diff: $(data "$T/ev_all" thing_updated)"
[ "$(data "$T/ev_all" thing_deleted | jq -c .)" = '{"id":"urn:ex:ev"}' ] || fail "delete diff ignored"
pass "tdd-notification-data-create-full, -update-diff, -update-id, -delete-diff (?diff=true)"
grep -q '^event: thing_created' "$T/ev_del" && fail "/events/thing_deleted delivered a creation"
[ "$(data "$T/ev_replay" thing_updated | jq -c 'keys')" = '["id"]' ] || fail "plain data: $(data "$T/ev_replay" thing_updated)"
grep -qE '^id: [0-9]+$' "$T/ev_all" || fail "no event ids"
pass "tdd-notification-sse, -event-id, -event-types, -filter-type, -data, -data-tdid; Last-Event-ID replay"

# ---- expiry ---------------------------------------------------------------------
cat > "$T/ttl.json" <<'EOF'
{"@context":"https://www.w3.org/2022/wot/td/v1.1","id":"urn:ex:ttl","title":"t",
 "securityDefinitions":{"n":{"scheme":"nosec"}},"security":"n","registration":{"ttl":1}}
EOF
req alice PUT /things/urn:ex:ttl "${J[@]}" --data-binary @"$T/ttl.json"
want 201 "ttl create"
req alice GET /things/urn:ex:ttl
[ "$(jq -r .registration.ttl "$T/b")" = 1 ] || fail "ttl not kept"
wait_log 'sweep tdd_expired=1'
req alice GET /things/urn:ex:ttl
want 404 "expired TD"
pass "tdd-registrationinfo-expiry-purge: a TD past its ttl is erased by the sweep"

# ---- introduction -----------------------------------------------------------------
req - GET /.well-known/wot
want 200 "introduction-well-known"
jq -e '."@type" == "ThingDirectory" and .properties.things.type == "array"' "$T/b" >/dev/null || fail "own TD"
cp "$T/b" "$T/own.json"
req alice PUT "/things/urn:iotkdc:directory" "${J[@]}" --data-binary @"$T/own.json"
want 201 "the directory's own TD validates (stored through the validator)"
pass "introduction-well-known-uri/-path/-thing-description, exploration-directory-description-type: the own TD validates against the TD 1.1 schema"

# ---- security lint --------------------------------------------------------------
cat > "$T/lint.json" <<'EOF2'
{"@context":"https://www.w3.org/2022/wot/td/v1.1","id":"urn:ex:weak","title":"weak",
 "securityDefinitions":{"basic_sc":{"scheme":"basic","in":"header"}},"security":"basic_sc",
 "properties":{"s":{"type":"string","forms":[{"href":"http://weak.example.com/s"}]}}}
EOF2
req alice PUT /things/urn:ex:weak "${J[@]}" --data-binary @"$T/lint.json"
want 201 "weak TD accepted (lint not strict)"
jq -e '.securityLint | map(select(.rule == "cleartext-credentials" and .field == "properties.s.forms.0")) | length == 1' "$T/b" >/dev/null ||
    fail "lint finding not returned: $(cat "$T/b")"
req alice GET /search/jsonpath -G --data-urlencode 'query=$[?@.registration.securityLint[?@.rule == "cleartext-credentials"]].id'
[ "$(jq -c . "$T/b")" = '["urn:ex:weak"]' ] || fail "lint not searchable: $(cat "$T/b")"
pass "security lint: findings come back on registration and are searchable with JSONPath"
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
set_conf tdd strict_lint true
restart_serve
td urn:ex:weak2 w > /dev/null
sed 's/urn:ex:weak/urn:ex:weak2/' "$T/lint.json" > "$T/lint2.json"
req alice PUT /things/urn:ex:weak2 "${J[@]}" --data-binary @"$T/lint2.json"
want 400 "strict lint"
jq -e '.securityLint | length > 0' "$T/b" >/dev/null || fail "strict refusal without findings"
req alice PUT /things/urn:ex:p-1 "${J[@]}" --data-binary @<(td urn:ex:p-1 "P 1 again")
want 204 "a clean TD under strict lint"
pass "strict_lint = true refuses a TD with findings (400 with securityLint), accepts a clean one"

# ---- rate limit ---------------------------------------------------------------------
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
set_conf tdd rate 2
restart_serve
codes=""
for _ in $(seq 1 8); do req bob GET /things; codes="$codes $ST"; done
[[ "$codes" == *429* ]] || fail "no 429 past the rate: $codes"
req alice GET /things
want 200 "another principal is not limited by bob's rate"
pass "rate limit per principal: bob gets 429 past 2/s (burst 4), alice is served ($codes)"

# ---- ACE bearer tokens (RFC 6750) from our own AS ----------------------------------
# The directory is the ACE resource server "tdd" ([tdd] audience); bob gets
# an access token from /token over HTTPS with his certificate, then uses it
# alone (no client certificate) as a bearer token.
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
set_conf tdd rate 100
restart_serve
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/rs.hex"; chmod 600 "$T/rs.hex"
kdc ace rs add tdd --key-file "$T/rs.hex" >/dev/null
kdc ace grant user.bob tdd read >/dev/null
/usr/bin/python3 -c 'import cbor2,sys; sys.stdout.buffer.write(cbor2.dumps({5: "tdd", 9: "read"}))' > "$T/treq.cbor"
req bob POST /token -H 'Content-Type: application/ace+cbor' --data-binary @"$T/treq.cbor"
want 201 "bob's token from /token"
TOKEN=$(/usr/bin/python3 -c 'import cbor2,sys,base64; t=cbor2.load(open(sys.argv[1],"rb"))[1]; print(base64.urlsafe_b64encode(t).decode().rstrip("="))' "$T/b")
[ -n "$TOKEN" ] || fail "no access token"
breq() { local m=$1 p=$2; shift 2; ST=$(curl -s --cacert "$T/ca.pem" -X "$m" -D "$T/h" -o "$T/b" -w '%{http_code}' "$@" "$U$p"); }
breq GET /things -H "Authorization: Bearer $TOKEN"
want 200 "bearer token lists"
[ "$(jq length "$T/b")" = 0 ] || fail "bob sees alice's TDs with his token"
td urn:ex:bob-1 "Bob 1" > "$T/bob1.json"
breq PUT /things/urn:ex:bob-1 -H "Authorization: Bearer $TOKEN" "${J[@]}" --data-binary @"$T/bob1.json"
want 201 "bearer token registers"
req bob GET /things/urn:ex:bob-1
want 200 "the TD is bob's, as by his certificate"
# its last two characters changed (never to themselves), and, when the
# token's length leaves bits unused, only those bits: the same bytes in
# another spelling, which a strict decoder refuses too
bad="${TOKEN%??}xx"
[ "$bad" != "$TOKEN" ] || bad="${TOKEN%??}yy"
breq GET /things -H "Authorization: Bearer $bad"
want 401 "a damaged token"
alt=$(/usr/bin/python3 -c 'import sys
a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
t = sys.argv[1]
print(t[:-1] + a[a.index(t[-1]) ^ 1] if len(t) % 4 else "")' "$TOKEN")
if [ -n "$alt" ]; then
	breq GET /things -H "Authorization: Bearer $alt"
	want 401 "the token in a non-canonical spelling"
fi
[[ "$(hdr www-authenticate)" == *invalid_token* ]] || fail "WWW-Authenticate for a bad token: $(hdr www-authenticate)"
breq GET /things -H "Authorization: Basic Ym9iOnB3"
want 401 "basic auth (not enabled)"
kdc ace revoke-grant user.bob tdd >/dev/null
breq GET /things -H "Authorization: Bearer $TOKEN"
want 401 "the token after its grant was revoked"
pass "ACE access tokens as bearer tokens: the client's principal, a damaged token 401 invalid_token, Basic refused, revocation reaches the next request"

# ---- HTTP basic for legacy clients, only when enabled ------------------------------
printf 'short\n' | expect_fail '12\.\.1024' kdc user passwd carol
printf 'correct horse battery staple\n' | kdc user passwd carol
sqlite3 "$T/d/iotkdc.db" "SELECT pwhash FROM users WHERE name = 'carol'" | grep -q '^\$argon2id\$' || fail "no Argon2id hash stored"
sqlite3 "$T/d/iotkdc.db" .dump | grep -q 'correct horse' && fail "the password is in the store"
breq GET /things -u 'carol:correct horse battery staple'
want 401 "basic while [tdd] basic = false"
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
set_conf tdd basic true
restart_serve
breq GET /things -u 'carol:correct horse battery staple'
want 200 "basic with the right password"
n_carol=$(jq length "$T/b")
req carol GET /things
[ "$(jq length "$T/b")" = "$n_carol" ] || fail "basic and certificate give carol different lists"
breq GET /things -u 'carol:wrong horse battery staple'
want 401 "wrong password"
[[ "$(hdr www-authenticate)" == Basic* ]] || fail "WWW-Authenticate: $(hdr www-authenticate)"
breq GET /things -u 'nobody:correct horse battery staple'
want 401 "unknown user"
kdc device revoke user.carol >/dev/null
breq GET /things -u 'carol:correct horse battery staple'
want 401 "a revoked user's password"
pass "HTTP basic only with [tdd] basic = true: Argon2id hash stored, wrong password, unknown and revoked users 401"
grep -q 'correct horse' "$T/serve.log" && fail "a password in the log"
pass "no password in the daemon's log"
