/*
 * syncer.c: the store's write-ahead log synced on a thread of its own
 * (core.h kdc_syncer_*), so the CoAP engine never waits for a disk: it
 * asks for a sync at the end of each engine step that committed, goes on
 * with the next datagrams, and sends the requests of that step (a
 * Bootstrap-Write of /0 carrying the credential just issued) once a sync
 * that started after their commits has ended. Syncs asked for while one
 * runs are served together by the next.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/core_int.h"

struct kdc_syncer {
	int		 fd;		/* the store's log; -1: nothing to sync */
	int		 efd;		/* eventfd: a sync ended */
	pthread_t	 th;
	bool		 started;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	uint64_t	 want;		/* the last ticket asked for */
	uint64_t	 done;		/* the last ticket synced */
	uint64_t	 failed;	/* the last ticket whose sync failed */
	bool		 stop;
	/* the engine thread's: commits that issued nothing, not yet synced,
	 * the first of them at since */
	bool		 unsynced;
	struct timespec	 since;
};

static void *
sync_main(void *arg)
{
	struct kdc_syncer *s = arg;
	uint64_t t, one = 1;
	kdc_err r;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		if (s->want == s->done || s->want == s->failed) {
			pthread_cond_wait(&s->cv, &s->mu);
			continue;
		}
		t = s->want;
		pthread_mutex_unlock(&s->mu);
		r = kdc_store_syncfd_run(s->fd);
		if (r != KDC_OK)
			kdc_log_err_r(r, "store sync failed");
		pthread_mutex_lock(&s->mu);
		if (r == KDC_OK)
			s->done = t;
		else
			s->failed = t;
		pthread_mutex_unlock(&s->mu);
		while (write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

kdc_err
kdc_syncer_new(struct kdc_core *core, struct kdc_syncer **out)
{
	struct kdc_syncer *s;
	kdc_err r;

	*out = NULL;
	if ((s = kdc_calloc(1, sizeof(*s))) == NULL)
		return KDC_ERR_NOMEM;
	s->efd = -1;
	if ((r = kdc_store_syncfd_open(core->st, &s->fd)) != KDC_OK) {
		kdc_free(s);
		return r;
	}
	if (s->fd < 0) {		/* every commit durable already */
		*out = s;
		return KDC_OK;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if ((s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    pthread_create(&s->th, NULL, sync_main, s) != 0) {
		kdc_syncer_free(s);
		return KDC_ERR_IO;
	}
	s->started = true;
	*out = s;
	return KDC_OK;
}

int
kdc_syncer_fd(const struct kdc_syncer *s)
{
	return s != NULL ? s->efd : -1;
}

/*
 * Every commit so far is covered by the last ticket asked for, once a
 * new one is asked for what is not synced yet. Requests wait only when
 * a credential was issued since the last ticket: commits that issued
 * nothing (an activation, a registration, an audit record) are synced
 * too, but nothing waits for them, and they ride along with the next
 * issuance's sync or go alone once KDC_STORE_SYNC_DELAY_MS old.
 */
uint64_t
kdc_syncer_request(struct kdc_syncer *s, struct kdc_core *core)
{
	struct timespec now;
	uint64_t t = 0;

	if (s == NULL || s->fd < 0)
		return 0;
	if (!core->issued_unsynced) {
		if (!s->unsynced && !kdc_store_sync_mark(core->st))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!s->unsynced) {
			s->unsynced = true;
			s->since = now;
		}
		if ((now.tv_sec - s->since.tv_sec) * 1000 +
		    (now.tv_nsec - s->since.tv_nsec) / 1000000 <
		    KDC_STORE_SYNC_DELAY_MS)
			return 0;
	} else
		(void)kdc_store_sync_mark(core->st);
	pthread_mutex_lock(&s->mu);
	s->want++;
	t = s->want;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	s->unsynced = false;
	core->issued_unsynced = false;
	return t;
}

void
kdc_syncer_state(struct kdc_syncer *s, uint64_t *done, uint64_t *failed)
{
	uint64_t n;

	*done = *failed = 0;
	if (s == NULL || s->fd < 0)
		return;
	while (read(s->efd, &n, sizeof(n)) > 0)
		;
	pthread_mutex_lock(&s->mu);
	*done = s->done;
	*failed = s->failed;
	pthread_mutex_unlock(&s->mu);
}

void
kdc_syncer_free(struct kdc_syncer *s)
{
	if (s == NULL)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
	}
	if (s->fd >= 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		close(s->fd);
	}
	if (s->efd >= 0)
		close(s->efd);
	kdc_free(s);
}
