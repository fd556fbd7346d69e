/*
 * pool.h: worker threads for work that would stall an event loop (an EST
 * enrollment: a CSR check, an ECDSA signature and a store commit, some
 * 400 µs), each worker with a kdc_core of its own.
 *
 * Model
 * - The owner (one thread: the CoAP engine's) submits jobs; a worker runs
 *   job->run(job, its core) on its own thread, then, for jobs that have
 *   one, job->batch() (below); the owner collects the
 *   finished jobs with kdc_pool_drain(), which calls job->done(job) on the
 *   owner's thread, so done may touch whatever the owner owns. Every
 *   submitted job gets exactly one done call: after run, or with
 *   job->ran false when the pool is freed first.
 * - kdc_pool_fd() is readable while finished jobs wait: the owner polls it
 *   in its loop.
 * - The cores are borrowed (each used by one worker only, never by two at
 *   once), as are the stores and CAs behind them.
 * - A job is the caller's memory (embed struct kdc_pool_job first in a
 *   struct of your own); the pool only links it, from submit to done.
 */
#ifndef KDC_POOL_H
#define KDC_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "core/core.h"

struct kdc_pool;

struct kdc_pool_job {
	struct kdc_pool_job	*next;		/* the pool's */
	/* on a worker thread, with the worker's own core */
	void	(*run)(struct kdc_pool_job *job, struct kdc_core *core);
	/*
	 * Optional, on the worker after run: a worker takes its share of
	 * the waiting jobs at once (at most KDC_POOL_BATCH_MAX; one when
	 * the queue is short) and calls batch once with those that share
	 * this function, in submission order: their writes in one
	 * transaction (EST's group commit). done follows for each.
	 */
	void	(*batch)(struct kdc_pool_job **jobs, size_t n,
		    struct kdc_core *core);
	/* on the owner's thread, from kdc_pool_drain() or kdc_pool_free() */
	void	(*done)(struct kdc_pool_job *job);
	bool			 ran;		/* set by the pool */
};

/*
 * Start one worker per core in cores[0..n-1] (n >= 1, at most
 * KDC_POOL_THREADS_MAX) and accept at most queue_max jobs waiting
 * (>= 1). KDC_ERR_INVALID_ARG, KDC_ERR_NOMEM, KDC_ERR_IO (eventfd or
 * thread creation failed; nothing is left running).
 */
kdc_err	kdc_pool_new(struct kdc_core *const *cores, size_t n,
	    size_t queue_max, struct kdc_pool **out);
/*
 * Queue job (run and done set). KDC_ERR_BUSY when queue_max jobs wait
 * already (the caller answers "try later"), KDC_ERR_CLOSED while the
 * pool is being freed, KDC_ERR_INVALID_ARG. done is never called for a
 * job that was not accepted.
 */
kdc_err	kdc_pool_submit(struct kdc_pool *p, struct kdc_pool_job *job);
/* True while queue_max jobs wait (a submit now is KDC_ERR_BUSY). */
bool	kdc_pool_full(struct kdc_pool *p);
/* Readable while finished jobs wait for kdc_pool_drain(). */
int	kdc_pool_fd(const struct kdc_pool *p);
/* Call done for every finished job, on the calling (owner's) thread;
 * returns how many. */
size_t	kdc_pool_drain(struct kdc_pool *p);
/* Jobs waiting + running (tests, metrics). */
size_t	kdc_pool_busy(struct kdc_pool *p);
/*
 * Stop: jobs not yet started are not run, the running ones finish; then
 * done is called for every job still held (ran says which ran), on the
 * caller's thread, and the workers are joined. NULL-safe.
 */
void	kdc_pool_free(struct kdc_pool *p);

#endif
