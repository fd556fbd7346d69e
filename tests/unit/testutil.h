/* testutil.h: helpers shared by the cmocka unit tests. */
#ifndef KDC_TESTUTIL_H
#define KDC_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A fresh private directory under $TMPDIR (or /tmp); caller frees the
 * string and removes the tree with kdc_test_rmtree(). Aborts on failure. */
char	*kdc_test_tmpdir(void);
/* rm -rf path (only what it created: refuses anything outside /tmp). */
void	 kdc_test_rmtree(const char *path);
/* Read a whole file into a NUL-terminated heap buffer; NULL on failure. */
uint8_t	*kdc_test_read_file(const char *path, size_t *len);
/* Write len bytes to path (truncate). 0 on success. */
int	 kdc_test_write_file(const char *path, const void *buf, size_t len);
/* Run a shell command; returns its exit status (-1 if it could not run). */
int	 kdc_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 1 if the n bytes of needle occur in haystack. */
int	 kdc_test_memmem(const void *hay, size_t hay_len, const void *needle,
	    size_t n);

/* A port free on the loopback address right now: the kernel's pick for
 * port 0. family AF_INET or AF_INET6, type SOCK_DGRAM or SOCK_STREAM.
 * -1 when it cannot bind (no IPv6 loopback, say). */
int	 kdc_test_free_port(int family, int type);
/* A UDP port on 127.0.0.1 (what most CoAP tests listen on); aborts if
 * there is none. */
int	 kdc_test_free_udp_port(void);
/*
 * Wait until a UDP socket is bound to port (any IPv4 address; read from
 * /proc/net/udp, so the check takes nothing from whoever binds it),
 * polling for at most ms milliseconds. pid > 0: the process expected to
 * bind it; its exit ends the wait. 0 once bound, -1 otherwise.
 */
int	 kdc_test_wait_udp_bound(int port, pid_t pid, int ms);

/* A vector file: lines "<hex> <ERRNAME>"; '#' starts a comment. */
struct kdc_vec {
	struct kdc_vec	*next;
	int		 line;
	uint8_t		*in;
	size_t		 in_len;
	int		 want;	/* a kdc_err */
};
struct kdc_vec	*kdc_vec_load(const char *path);
void		 kdc_vec_free(struct kdc_vec *v);

#endif
