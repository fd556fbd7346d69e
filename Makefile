# iotkdc: a thin wrapper around CMake. `make run` and `make test` are the
# two commands a newcomer needs; both install what is missing first.
#   make deps       apt-get install every Debian package build, tests and runtime need,
#                   and upgrade libgnutls30 older than GNUTLS_MIN
#   make build      configure + compile (build/, or build-san/ with SAN=1)
#   make run        init a data dir (DIR, default ./var) if needed, then serve
#   make test       build and run every test (CTest); SAN=1 for ASan+UBSan
#   make bench      benchmarks; writes bench/results.md
#   make bench-ace  only the ACE rows (issue 15 §5); their section of
#                   bench/results.md
#   make bench-ocf  only the OCF rows (issue 16 §4, root: network
#                   namespaces); their section of bench/results.md
#   make bench-tdd  only the Thing Directory rows (issue 17 §4: search
#                   latency up to 1,000,000 TDs, GET /things/{id}/s);
#                   their section of bench/results.md
#   make bench-capacity  idle-session capacity (BENCH_CAPACITY_SESSIONS,
#                   default 1,000,000); its section of bench/results.md
#   make fuzz       libFuzzer harnesses (clang), FUZZ_SECONDS each

SHELL      := /bin/bash
SAN        ?= 0
DIR        ?= $(or $(IOTKDC_DIR),./var)
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 30
WERROR     ?= $(if $(CI),ON,OFF)

ifeq ($(SAN),1)
BUILD      := build-san
CMAKE_OPTS := -DKDC_SAN=ON
else
BUILD      := build
CMAKE_OPTS :=
endif

# Build: compiler, CMake, pkg-config and the -dev packages we link
# (libssl-dev: OpenSSL's libcrypto, ECDSA P-256 only: crypto/p256.c and
# cose/crypto_openssl.c; libavahi-client-dev: the Thing Directory's DNS-SD
# introduction through avahi-daemon, tdd/dnssd.c, runtime libavahi-client3).
PKGS_BUILD := gcc make cmake pkg-config libgnutls28-dev libsqlite3-dev \
	libmicrohttpd-dev libjansson-dev libinih-dev libcmocka-dev \
	libcoap3-dev libcbor-dev libssl-dev libsodium-dev libavahi-client-dev
# Runtime tools: certtool/p11tool for operators.
PKGS_RUN   := gnutls-bin
# Tests: independent peers and tools (curl, openssl, sqlite3 CLI,
# SoftHSM2 token), clang + its runtime for libFuzzer, Valgrind (Memcheck
# for the libraries the sanitizers do not see into), strace (test_durable:
# the WAL fdatasync before the datagram carrying a credential), slowhttptest
# (slowloris and slow-body clients against the HTTPS listener),
# python3-cbor2 + python3-cryptography (the independent COSE/CWT peer of
# test_cose_peer.sh, run by /usr/bin/python3), iproute2 (ip: the network
# namespaces of the multicast tests; ss: a peer's bound port), jq (the
# OCF test reads the CLI's --json), json-schema-test-suite (draft7 cases for
# the TD validator, src/tdd/jschema.c) and python3-jsonschema (its
# independent peer, unit.tdd_jschema_peer), avahi-daemon + avahi-utils +
# dbus-daemon (test_tdd_dnssd: a real avahi-daemon on a private system bus
# in a network namespace, avahi-browse as the DNS-SD peer).
PKGS_TEST  := openssl curl sqlite3 softhsm2 clang libclang-rt-14-dev procps \
	libcoap3-bin valgrind strace slowhttptest python3-cbor2 python3-cryptography \
	iproute2 jq json-schema-test-suite python3-jsonschema avahi-daemon avahi-utils \
	dbus-daemon
PKGS       := $(PKGS_BUILD) $(PKGS_RUN) $(PKGS_TEST)
# Node.js + npm run the coap-node interop peer. Checked by command, not by
# package: a machine with another Node.js build (e.g. one that bundles
# npm) must not get Debian's npm forced on top of it.
NODE_PKGS  := nodejs npm
# The oldest GnuTLS runtime we serve DTLS on: bookworm's deb12u7 fixes three
# remote DTLS reassembly CVEs. A Debian revision, which the daemon cannot
# see at run time (gnutls_check_version() knows only "3.7.9"): `make deps`
# checks the package and upgrades an older one (docs/traps.md).
GNUTLS_MIN := 3.7.9-2+deb12u7

.PHONY: all deps build run test bench bench-ace bench-ocf bench-tdd bench-capacity fuzz clean

all: build

deps:
	@missing=""; for p in $(PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	{ command -v node && command -v npm; } >/dev/null 2>&1 || missing="$$missing $(NODE_PKGS)"; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
		|| { echo "deps: apt-get install failed for:$$missing" >&2; exit 1; }; \
	fi
	@v=$$(dpkg-query -W -f='$${Version}' libgnutls30 2>/dev/null); \
	if [ -z "$$v" ] || ! dpkg --compare-versions "$$v" ge '$(GNUTLS_MIN)'; then \
		echo "deps: libgnutls30 $${v:-missing} is older than $(GNUTLS_MIN) (remote DTLS reassembly CVEs): upgrading"; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		gt=$$(dpkg-query -W -f='$${Package} $${Status}\n' 'libgnutls*' gnutls-bin 2>/dev/null | awk '/ok installed/ { print $$1 }'); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --only-upgrade --no-install-recommends $$gt >/dev/null \
		|| { echo "deps: apt-get could not upgrade:" $$gt >&2; exit 1; }; \
		v=$$(dpkg-query -W -f='$${Version}' libgnutls30 2>/dev/null); \
		dpkg --compare-versions "$$v" ge '$(GNUTLS_MIN)' || { \
			echo "deps: libgnutls30 is still $${v:-missing}; $(GNUTLS_MIN) or later is in bookworm-security (add it to the apt sources)" >&2; exit 1; }; \
	fi

# configured on every build: WERROR (CI) takes effect in a build dir made
# without it (a configure that changes nothing takes about a second)
build: deps
	cmake -S . -B $(BUILD) -DKDC_WERROR=$(WERROR) $(CMAKE_OPTS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@if [ ! -f "$(DIR)/iotkdc.conf" ]; then ./$(BUILD)/iotkdc init --dir "$(DIR)"; fi
	exec ./$(BUILD)/iotkdc serve --dir "$(DIR)"

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	./bench/run.sh $(BUILD)

bench-capacity: build
	./bench/run.sh $(BUILD) capacity

bench-ace: build
	./bench/run.sh $(BUILD) ace

bench-ocf: build
	./bench/run.sh $(BUILD) ocf

bench-tdd: build
	./bench/run.sh $(BUILD) tdd

fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DKDC_FUZZ=ON \
		-DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	./fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf build build-san build-fuzz
