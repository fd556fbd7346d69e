#!/usr/bin/env bash
# A Block1 body past the route's limit is refused (issue 14; RFC 7959
# §2.9.3): a device with a valid credential POSTs to EST /sen (limit
# 8 KiB, a CSR) 1024-byte blocks.
# - without Size1: blocks 0-7 (8 KiB) get 2.31 Continue, block 8 (past
#   8 KiB) gets 4.13;
# - with a lying Size1 = 4096: the first answer that is not 2.31 is 4.13,
#   at block 8 at the latest: nothing past 8 KiB is taken.
# libcoap 4.3.1 joins the body itself: without Size1 it answers 4.08 to
# the first block; with Size1 it takes blocks past 8 KiB and answers only
# at the end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine.sh"

kdc init >/dev/null
psk_device urn:dev:bl:1 bl1 'limit-key-0123456789'
start_serve
SEN=(--path .well-known/est/sen --opt "12=011e")	# Content-Format 286 (PKCS#10)

psk_probe bl1 coap-raw "${SEN[@]}" --blocks 12 > "$T/a.out" || fail "blocks without Size1: $(cat "$T/a.out")"
c=$(codes "$T/a.out")
[ "$c" = "2.31 2.31 2.31 2.31 2.31 2.31 2.31 2.31 4.13 " ] ||
	fail "1024-byte blocks without Size1 answered: $c(want 2.31 x 8 for the first 8 KiB, then 4.13)"
pass "without Size1: 8 blocks of 1 KiB taken (2.31), the 9th (past 8 KiB) refused 4.13"

psk_probe bl1 coap-raw "${SEN[@]}" --blocks 12 --size1 4096 > "$T/b.out" || fail "blocks with Size1 4096: $(cat "$T/b.out")"
c=$(codes "$T/b.out")
case "$c" in
*4.13\ ) ;;
*) fail "1024-byte blocks announced as 4096 B answered: $c(want 4.13 at the end)" ;;
esac
[ "$(echo "$c" | wc -w)" -le 9 ] || fail "blocks past 8 KiB taken: $c"
pass "Size1 = 4096 (a lie), 12 blocks: answered $c(refused at block $(( $(echo "$c" | wc -w) - 1 )))"
