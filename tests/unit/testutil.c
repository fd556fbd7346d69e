/* testutil.c: see testutil.h. */
#define _GNU_SOURCE	/* asprintf */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "testutil.h"

char *
kdc_test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&p, "%s/kdctest.XXXXXX", base) < 0 || mkdtemp(p) == NULL)
		abort();
	return p;
}

void
kdc_test_rmtree(const char *path)
{
	if (path == NULL || strstr(path, "/kdctest.") == NULL)
		return;
	(void)kdc_test_sh("rm -rf '%s'", path);
}

uint8_t *
kdc_test_read_file(const char *path, size_t *len)
{
	FILE *f;
	uint8_t *buf = NULL;
	long n;

	*len = 0;
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL)
		goto out;
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = 0;
	*len = (size_t)n;
out:
	fclose(f);
	return buf;
}

int
kdc_test_write_file(const char *path, const void *buf, size_t len)
{
	FILE *f;
	int r;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	r = fwrite(buf, 1, len, f) == len ? 0 : -1;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

int
kdc_test_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if ((st = system(cmd)) == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
kdc_test_memmem(const void *hay, size_t hay_len, const void *needle, size_t n)
{
	const uint8_t *h = hay;

	if (n == 0 || n > hay_len)
		return 0;
	for (size_t i = 0; i + n <= hay_len; i++)
		if (memcmp(h + i, needle, n) == 0)
			return 1;
	return 0;
}

int
kdc_test_free_port(int family, int type)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, port;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s4);
	}
	if ((fd = socket(family, type, 0)) < 0)
		return -1;
	port = -1;
	if (bind(fd, (struct sockaddr *)&ss, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	close(fd);
	return port;
}

int
kdc_test_free_udp_port(void)
{
	int port = kdc_test_free_port(AF_INET, SOCK_DGRAM);

	if (port <= 0)
		abort();
	return port;
}

/* Is a UDP socket bound to port in /proc/net/udp? */
static int
udp_bound(int port)
{
	char line[512];
	unsigned addr, p;
	int found = 0;
	FILE *f;

	if ((f = fopen("/proc/net/udp", "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, " %*u: %8X:%4X", &addr, &p) == 2 &&
		    (int)p == port)
			found = 1;
	fclose(f);
	return found;
}

int
kdc_test_wait_udp_bound(int port, pid_t pid, int ms)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	for (int waited = 0; waited <= ms; waited += 10) {
		if (udp_bound(port))
			return 0;
		if (pid > 0 && waitpid(pid, NULL, WNOHANG) != 0)
			return -1;	/* it exited (or is not ours) */
		nanosleep(&tick, NULL);
	}
	return -1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

struct kdc_vec *
kdc_vec_load(const char *path)
{
	struct kdc_vec *head = NULL, **tail = &head;
	char line[65536], hex[65536], name[64];
	FILE *f;
	int lineno = 0;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		struct kdc_vec *v;
		char *hash;
		size_t n;

		lineno++;
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		if (sscanf(line, "%65535s %63s", hex, name) != 2)
			continue;
		n = strlen(hex);
		if (n % 2 != 0 || (v = calloc(1, sizeof(*v))) == NULL ||
		    (v->in = malloc(n / 2 + 1)) == NULL)
			abort();
		for (size_t i = 0; i < n / 2; i++) {
			int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
			if (hi < 0 || lo < 0)
				abort();
			v->in[i] = (uint8_t)(hi << 4 | lo);
		}
		v->in_len = n / 2;
		v->line = lineno;
		if ((v->want = kdc_err_from_name(name)) == 1)
			abort();
		*tail = v;
		tail = &v->next;
	}
	fclose(f);
	return head;
}

void
kdc_vec_free(struct kdc_vec *v)
{
	while (v != NULL) {
		struct kdc_vec *next = v->next;
		free(v->in);
		free(v);
		v = next;
	}
}
