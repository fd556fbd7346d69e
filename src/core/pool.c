/*
 * pool.c: worker threads with a core each (pool.h). One mutex guards the
 * two lists (waiting, finished) and the counters; workers sleep on a
 * condition variable; the owner is woken through an eventfd that stays
 * readable while the finished list is not empty.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "core/pool.h"

struct worker {
	struct kdc_pool		*pool;
	struct kdc_core		*core;
	pthread_t		 thread;
	bool			 started;
};

struct kdc_pool {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;		/* work waiting, or stopping */
	struct kdc_pool_job	*wait_head, *wait_tail;	/* FIFO */
	struct kdc_pool_job	*fin_head, *fin_tail;	/* FIFO */
	size_t			 nwait;
	size_t			 nrunning;
	size_t			 queue_max;
	bool			 stopping;
	int			 efd;		/* eventfd: finished jobs wait */
	size_t			 nworkers;
	struct worker		 workers[];
};

static void
push(struct kdc_pool_job **head, struct kdc_pool_job **tail,
    struct kdc_pool_job *j)
{
	j->next = NULL;
	if (*tail != NULL)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static struct kdc_pool_job *
pop(struct kdc_pool_job **head, struct kdc_pool_job **tail)
{
	struct kdc_pool_job *j = *head;

	if (j != NULL) {
		*head = j->next;
		if (*head == NULL)
			*tail = NULL;
		j->next = NULL;
	}
	return j;
}

/* Wake the owner: one write makes the eventfd readable until drained. */
static void
signal_owner(struct kdc_pool *p)
{
	uint64_t one = 1;
	ssize_t n;

	do
		n = write(p->efd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the counter is at its maximum, so it is readable anyway */
}

/*
 * How many waiting jobs a worker takes at once: its share of them, so an
 * idle worker is not left without, and at most KDC_POOL_BATCH_MAX.
 */
static size_t
take_count(const struct kdc_pool *p)
{
	size_t k = (p->nwait + p->nworkers - 1) / p->nworkers;

	return k > KDC_POOL_BATCH_MAX ? KDC_POOL_BATCH_MAX : k;
}

/* After their runs: batch() once for each group of the taken jobs that
 * share it (in the order taken), on this worker. */
static void
run_batches(struct kdc_pool_job **js, size_t n, struct kdc_core *core)
{
	struct kdc_pool_job *group[KDC_POOL_BATCH_MAX];
	bool done[KDC_POOL_BATCH_MAX] = { false };
	size_t i, j, m;

	for (i = 0; i < n; i++) {
		if (done[i] || js[i]->batch == NULL)
			continue;
		for (m = 0, j = i; j < n; j++)
			if (!done[j] && js[j]->batch == js[i]->batch) {
				group[m++] = js[j];
				done[j] = true;
			}
		js[i]->batch(group, m, core);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct kdc_pool *p = w->pool;
	struct kdc_pool_job *js[KDC_POOL_BATCH_MAX];
	size_t n, i;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stopping && p->wait_head == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stopping)
			break;
		n = take_count(p);
		for (i = 0; i < n; i++) {
			js[i] = pop(&p->wait_head, &p->wait_tail);
			p->nwait--;
			p->nrunning++;
		}
		pthread_mutex_unlock(&p->mu);

		for (i = 0; i < n; i++) {
			js[i]->run(js[i], w->core);
			js[i]->ran = true;
		}
		run_batches(js, n, w->core);

		pthread_mutex_lock(&p->mu);
		for (i = 0; i < n; i++) {
			p->nrunning--;
			push(&p->fin_head, &p->fin_tail, js[i]);
		}
		signal_owner(p);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
stop_workers(struct kdc_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < p->nworkers; i++)
		if (p->workers[i].started) {
			pthread_join(p->workers[i].thread, NULL);
			p->workers[i].started = false;
		}
}

kdc_err
kdc_pool_new(struct kdc_core *const *cores, size_t n, size_t queue_max,
    struct kdc_pool **out)
{
	struct kdc_pool *p;

	if (out == NULL)
		return KDC_ERR_INVALID_ARG;
	*out = NULL;
	if (cores == NULL || n == 0 || n > KDC_POOL_THREADS_MAX ||
	    queue_max == 0)
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++)
		if (cores[i] == NULL)
			return KDC_ERR_INVALID_ARG;
	if ((p = calloc(1, sizeof(*p) + n * sizeof(p->workers[0]))) == NULL)
		return KDC_ERR_NOMEM;
	p->queue_max = queue_max;
	p->nworkers = n;
	if ((p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		kdc_log_err("pool: eventfd: %s", strerror(errno));
		free(p);
		return KDC_ERR_IO;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	for (size_t i = 0; i < n; i++) {
		struct worker *w = &p->workers[i];
		int e;

		w->pool = p;
		w->core = cores[i];
		if ((e = pthread_create(&w->thread, NULL, worker_main, w)) !=
		    0) {
			kdc_log_err("pool: cannot start worker %zu: %s", i,
			    strerror(e));
			kdc_pool_free(p);
			return KDC_ERR_IO;
		}
		w->started = true;
	}
	*out = p;
	return KDC_OK;
}

kdc_err
kdc_pool_submit(struct kdc_pool *p, struct kdc_pool_job *job)
{
	kdc_err r = KDC_OK;

	if (p == NULL || job == NULL || job->run == NULL || job->done == NULL)
		return KDC_ERR_INVALID_ARG;
	job->ran = false;
	pthread_mutex_lock(&p->mu);
	if (p->stopping)
		r = KDC_ERR_CLOSED;
	else if (p->nwait >= p->queue_max)
		r = KDC_ERR_BUSY;
	else {
		push(&p->wait_head, &p->wait_tail, job);
		p->nwait++;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

bool
kdc_pool_full(struct kdc_pool *p)
{
	bool full;

	if (p == NULL)
		return false;
	pthread_mutex_lock(&p->mu);
	full = p->nwait >= p->queue_max;
	pthread_mutex_unlock(&p->mu);
	return full;
}

int
kdc_pool_fd(const struct kdc_pool *p)
{
	return p != NULL ? p->efd : -1;
}

size_t
kdc_pool_drain(struct kdc_pool *p)
{
	struct kdc_pool_job *list, *j;
	uint64_t v;
	size_t n = 0;

	if (p == NULL)
		return 0;
	/* reset the eventfd first: a job finishing after the read below is
	 * taken now or wakes the owner again */
	while (read(p->efd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&p->mu);
	list = p->fin_head;
	p->fin_head = p->fin_tail = NULL;
	pthread_mutex_unlock(&p->mu);
	while ((j = list) != NULL) {
		list = j->next;
		j->next = NULL;
		j->done(j);	/* may free j */
		n++;
	}
	return n;
}

size_t
kdc_pool_busy(struct kdc_pool *p)
{
	size_t n;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	n = p->nwait + p->nrunning;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void
kdc_pool_free(struct kdc_pool *p)
{
	struct kdc_pool_job *j;

	if (p == NULL)
		return;
	stop_workers(p);	/* running jobs finish: they land in fin */
	(void)kdc_pool_drain(p);
	while ((j = pop(&p->wait_head, &p->wait_tail)) != NULL) {
		j->ran = false;
		j->done(j);
	}
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	close(p->efd);
	free(p);
}
