/*
 * test_pool.c: core/pool.h: every job runs once on a worker with that
 * worker's core and is done once on the owner's thread; the eventfd wakes
 * the owner; a full queue refuses (BUSY) and says so; freeing the pool
 * finishes running jobs and hands back the waiting ones unrun; a worker
 * takes the waiting jobs together and calls batch once per group.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/pool.h"

#define NJOBS	2000

/* Stand-ins for cores: the pool only hands the pointer to run(). */
static int core_tag[3];

struct job {
	struct kdc_pool_job	 pj;
	pthread_t		 owner;
	int			 runs;
	int			 dones;
	struct kdc_core		*core;
	bool			 on_worker;
	bool			 done_on_owner;
	/* blocking jobs */
	pthread_mutex_t		*mu;
	pthread_cond_t		*cv;
	bool			*release;
	bool			 started;
};

static void
job_run(struct kdc_pool_job *pj, struct kdc_core *core)
{
	struct job *j = (struct job *)pj;

	j->runs++;
	j->core = core;
	j->on_worker = !pthread_equal(pthread_self(), j->owner);
	if (j->mu != NULL) {
		pthread_mutex_lock(j->mu);
		j->started = true;
		pthread_cond_broadcast(j->cv);
		while (!*j->release)
			pthread_cond_wait(j->cv, j->mu);
		pthread_mutex_unlock(j->mu);
	}
}

static void
job_done(struct kdc_pool_job *pj)
{
	struct job *j = (struct job *)pj;

	j->dones++;
	j->done_on_owner = pthread_equal(pthread_self(), j->owner);
}

static struct kdc_core *
core_of(int i)
{
	return (struct kdc_core *)(void *)&core_tag[i];
}

static void
test_args(void **state)
{
	struct kdc_core *cores[2] = { core_of(0), NULL };
	struct kdc_pool *p = (struct kdc_pool *)1;
	struct job j;

	(void)state;
	assert_int_equal(kdc_pool_new(cores, 1, 0, &p), KDC_ERR_INVALID_ARG);
	assert_null(p);
	assert_int_equal(kdc_pool_new(cores, 0, 1, &p), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_pool_new(cores, 2, 1, &p), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_pool_new(NULL, 1, 1, &p), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_pool_new(cores, KDC_POOL_THREADS_MAX + 1, 1, &p),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_pool_new(cores, 1, 1, &p), KDC_OK);
	memset(&j, 0, sizeof(j));
	assert_int_equal(kdc_pool_submit(p, &j.pj), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_pool_submit(NULL, &j.pj), KDC_ERR_INVALID_ARG);
	kdc_pool_free(p);
	kdc_pool_free(NULL);
	assert_int_equal(kdc_pool_drain(NULL), 0);
	assert_int_equal(kdc_pool_fd(NULL), -1);
}

/* Wait until the owner's fd is readable (or fail after 5 s). */
static void
wait_fd(struct kdc_pool *p)
{
	struct pollfd pfd = { .fd = kdc_pool_fd(p), .events = POLLIN };

	assert_int_equal(poll(&pfd, 1, 5000), 1);
}

static void
test_many(void **state)
{
	struct kdc_core *cores[3] = { core_of(0), core_of(1), core_of(2) };
	struct kdc_pool *p = NULL;
	struct job *jobs = calloc(NJOBS, sizeof(*jobs));
	size_t submitted = 0, done = 0, used[3] = { 0, 0, 0 };

	(void)state;
	assert_non_null(jobs);
	assert_int_equal(kdc_pool_new(cores, 3, 64, &p), KDC_OK);
	while (done < NJOBS) {
		while (submitted < NJOBS) {
			struct job *j = &jobs[submitted];
			kdc_err r;

			j->owner = pthread_self();
			j->pj.run = job_run;
			j->pj.done = job_done;
			r = kdc_pool_submit(p, &j->pj);
			/* (a worker may take a job at once: whether the pool
			 * is still full is not asserted here, see
			 * test_free_hands_back for BUSY on a held pool) */
			if (r == KDC_ERR_BUSY)
				break;
			assert_int_equal(r, KDC_OK);
			submitted++;
		}
		assert_true(kdc_pool_busy(p) <= 64 + 3 * KDC_POOL_BATCH_MAX);
		wait_fd(p);
		done += kdc_pool_drain(p);
	}
	assert_int_equal(kdc_pool_busy(p), 0);
	assert_int_equal(kdc_pool_drain(p), 0);
	for (size_t i = 0; i < NJOBS; i++) {
		assert_int_equal(jobs[i].runs, 1);
		assert_int_equal(jobs[i].dones, 1);
		assert_true(jobs[i].pj.ran);
		assert_true(jobs[i].on_worker);
		assert_true(jobs[i].done_on_owner);
		for (int k = 0; k < 3; k++)
			if (jobs[i].core == core_of(k))
				used[k]++;
	}
	/* each job got one of the cores, none made up */
	assert_int_equal(used[0] + used[1] + used[2], NJOBS);
	kdc_pool_free(p);
	free(jobs);
}

struct releaser {
	struct kdc_pool		*p;
	pthread_mutex_t		*mu;
	pthread_cond_t		*cv;
	bool			*release;
};

/* Let the running job end once the pool is stopping (a submit says
 * CLOSED then; BUSY before, the queue being full). */
static void *
releaser_main(void *arg)
{
	struct releaser *rl = arg;
	struct job dummy;

	memset(&dummy, 0, sizeof(dummy));
	dummy.pj.run = job_run;
	dummy.pj.done = job_done;
	while (kdc_pool_submit(rl->p, &dummy.pj) != KDC_ERR_CLOSED)
		usleep(1000);
	pthread_mutex_lock(rl->mu);
	*rl->release = true;
	pthread_cond_broadcast(rl->cv);
	pthread_mutex_unlock(rl->mu);
	return NULL;
}

/* Free with one job running and two waiting: the running one finishes
 * (ran), the waiting ones come back unrun; each done once. */
static void
test_free_hands_back(void **state)
{
	struct kdc_core *cores[1] = { core_of(0) };
	struct kdc_pool *p = NULL;
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	bool release = false;
	struct job j[3];
	struct releaser rl;
	pthread_t th;

	(void)state;
	memset(j, 0, sizeof(j));
	assert_int_equal(kdc_pool_new(cores, 1, 2, &p), KDC_OK);
	for (int i = 0; i < 3; i++) {
		j[i].owner = pthread_self();
		j[i].pj.run = job_run;
		j[i].pj.done = job_done;
		j[i].mu = &mu;
		j[i].cv = &cv;
		j[i].release = &release;
		assert_int_equal(kdc_pool_submit(p, &j[i].pj), KDC_OK);
		if (i == 0) {	/* the worker holds job 0 */
			pthread_mutex_lock(&mu);
			while (!j[0].started)
				pthread_cond_wait(&cv, &mu);
			pthread_mutex_unlock(&mu);
		}
	}
	assert_true(kdc_pool_full(p));
	assert_int_equal(kdc_pool_busy(p), 3);
	assert_int_equal(kdc_pool_submit(p, &j[2].pj), KDC_ERR_BUSY);
	rl.p = p;
	rl.mu = &mu;
	rl.cv = &cv;
	rl.release = &release;
	assert_int_equal(pthread_create(&th, NULL, releaser_main, &rl), 0);
	kdc_pool_free(p);	/* joins the worker once job 0 ends */
	pthread_join(th, NULL);
	assert_int_equal(j[0].runs, 1);
	assert_true(j[0].pj.ran);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(j[i].dones, 1);
		assert_true(j[i].done_on_owner);
	}
	for (int i = 1; i < 3; i++) {
		assert_int_equal(j[i].runs, 0);
		assert_false(j[i].pj.ran);
	}
}


/* ---- batch ---------------------------------------------------------------- */

struct bjob {
	struct job	 j;		/* first */
	int		 tag;
	int		 batched;	/* batch calls that held it */
	int		 group;		/* which call */
	bool		 ran_first;	/* run came before its batch */
};

static int groups, group_size[16], group_tag[16][KDC_POOL_BATCH_MAX];

static void
batch_fn(struct kdc_pool_job **pjs, size_t n, struct kdc_core *core,
    int which)
{
	assert_true(n >= 1 && n <= KDC_POOL_BATCH_MAX);
	assert_true(groups < 16);
	for (size_t i = 0; i < n; i++) {
		struct bjob *b = (struct bjob *)pjs[i];

		assert_ptr_equal(b->j.core, core);	/* the same worker */
		b->ran_first = b->j.runs == 1 && b->j.dones == 0;
		b->batched++;
		b->group = groups;
		group_tag[groups][i] = b->tag;
	}
	group_size[groups] = (int)n * (which == 1 ? 1 : -1);
	groups++;
}

static void
batch_b(struct kdc_pool_job **pjs, size_t n, struct kdc_core *core)
{
	batch_fn(pjs, n, core, 1);
}

static void
batch_c(struct kdc_pool_job **pjs, size_t n, struct kdc_core *core)
{
	batch_fn(pjs, n, core, 2);
}

/*
 * One worker held by a job while eleven wait: B1 B2 X B3 C1 B4 B5 B6 B7
 * B8 C2 (B, C: two batch functions; X: none). Released, it takes
 * KDC_POOL_BATCH_MAX (8) of them: batch_b with B1-B6 in submission
 * order, then batch_c with C1; then B7 B8, then C2. X is never batched
 * (the holding job was taken alone: a group of one); each job is run before its batch and done
 * once, after it.
 */
static void
test_batch(void **state)
{
	static const char order[] = "BBXBCBBBBBC";
	struct kdc_core *cores[1] = { core_of(0) };
	struct kdc_pool *p = NULL;
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	bool release = false;
	struct bjob hold, b[sizeof(order) - 1];
	size_t n = sizeof(order) - 1, done = 0;
	int nb = 0, nc = 0;

	(void)state;
	assert_int_equal(KDC_POOL_BATCH_MAX, 8);	/* the groups below */
	groups = 0;
	memset(&hold, 0, sizeof(hold));
	memset(b, 0, sizeof(b));
	assert_int_equal(kdc_pool_new(cores, 1, 64, &p), KDC_OK);
	hold.j.owner = pthread_self();
	hold.j.pj.run = job_run;
	hold.j.pj.batch = batch_b;
	hold.j.pj.done = job_done;
	hold.j.mu = &mu;
	hold.j.cv = &cv;
	hold.j.release = &release;
	hold.tag = 0;
	assert_int_equal(kdc_pool_submit(p, &hold.j.pj), KDC_OK);
	pthread_mutex_lock(&mu);
	while (!hold.j.started)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	for (size_t i = 0; i < n; i++) {
		b[i].j.owner = pthread_self();
		b[i].j.pj.run = job_run;
		b[i].j.pj.done = job_done;
		b[i].j.pj.batch = order[i] == 'B' ? batch_b :
		    order[i] == 'C' ? batch_c : NULL;
		b[i].tag = order[i] == 'B' ? ++nb : order[i] == 'C' ?
		    100 + ++nc : -1;
		assert_int_equal(kdc_pool_submit(p, &b[i].j.pj), KDC_OK);
	}
	pthread_mutex_lock(&mu);
	release = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	while (done < n + 1) {
		wait_fd(p);
		done += kdc_pool_drain(p);
	}
	/* the holding job was taken alone: a group of one */
	assert_int_equal(hold.batched, 1);
	assert_int_equal(hold.group, 0);
	assert_int_equal(groups, 5);
	assert_int_equal(group_size[0], 1);
	assert_int_equal(group_size[1], 6);
	assert_int_equal(group_size[2], -1);
	assert_int_equal(group_tag[2][0], 101);
	assert_int_equal(group_size[3], 2);
	for (int i = 0; i < 6; i++)
		assert_int_equal(group_tag[1][i], i + 1);
	assert_int_equal(group_tag[3][0], 7);
	assert_int_equal(group_tag[3][1], 8);
	assert_int_equal(group_size[4], -1);
	assert_int_equal(group_tag[4][0], 102);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(b[i].j.runs, 1);
		assert_int_equal(b[i].j.dones, 1);
		assert_true(b[i].j.done_on_owner);
		if (order[i] == 'X') {
			assert_int_equal(b[i].batched, 0);
			continue;
		}
		assert_int_equal(b[i].batched, 1);
		assert_true(b[i].ran_first);
	}
	kdc_pool_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_free_hands_back),
		cmocka_unit_test(test_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
