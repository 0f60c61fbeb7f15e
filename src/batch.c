/*
 * batch.c: many probes in one process. A pool of worker threads takes
 * targets from the caller as they come (the input is streamed, never held
 * whole), probes them with one shared configuration, and hands each result
 * back as it finishes, or in input order when asked, with a bounded window
 * so that memory stays flat however long the list is.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "probe.h"
#include "trust.h"

#define MAX_PARALLEL 1024
/* In order, results may wait for an earlier slow one: at most this many per worker. */
#define WINDOW_PER_WORKER 4
#define WORKER_STACK (256 * 1024)
/* A result that could not be made, in its place in the ordered window. */
#define LOST ((struct tp_result *)&lost_marker)
static const char lost_marker;

/* The handle: the shared configuration, and the last error. */
struct tp_batch {
	struct tp_config *cfg;
	char error[512];
};

/* One run. */
struct batch {
	struct tp_config *cfg;
	bool ordered;
	tp_batch_next_fn *next;
	tp_batch_done_fn *done;
	void *ctx;

	/*
	 * Reading and writing never wait for each other: a reader blocked on
	 * a slow input (a pipe) must not keep finished results from going out.
	 * Lock order: in, then window; out, then window.
	 */
	pthread_mutex_t in;  /* the input: next(), next_index, input_over */
	pthread_mutex_t out; /* the output: done(), pending */
	pthread_mutex_t window_lock;
	pthread_cond_t room; /* the window has room again */
	bool input_over;
	size_t next_index;       /* of the next target read */
	atomic_size_t next_emit; /* of the next result handed back, when ordered */
	size_t window;
	struct tp_result **pending; /* ring of window slots, by index % window */
};

/* With b->out held: hand back what can go, in order. */
static void
emit_ready(struct batch *b)
{
	struct tp_result *r;
	size_t i = atomic_load(&b->next_emit);

	while ((r = b->pending[i % b->window])) {
		b->pending[i % b->window] = NULL;
		if (r != LOST)
			b->done(b->ctx, i, r);
		atomic_store(&b->next_emit, ++i);
	}
	pthread_mutex_lock(&b->window_lock);
	pthread_cond_broadcast(&b->room);
	pthread_mutex_unlock(&b->window_lock);
}

static void *
worker(void *arg)
{
	struct batch *b = arg;

	for (;;) {
		struct tp_target t;
		char err[512] = "";
		size_t index;
		int got;

		pthread_mutex_lock(&b->in);
		if (b->ordered) {
			pthread_mutex_lock(&b->window_lock);
			while (b->next_index - atomic_load(&b->next_emit) >= b->window)
				pthread_cond_wait(&b->room, &b->window_lock);
			pthread_mutex_unlock(&b->window_lock);
		}
		if (b->input_over) {
			pthread_mutex_unlock(&b->in);
			return NULL;
		}
		memset(&t, 0, sizeof(t));
		got = b->next(b->ctx, &t, err, sizeof(err));
		if (got == 0) {
			b->input_over = true;
			pthread_mutex_unlock(&b->in);
			return NULL;
		}
		index = b->next_index++;
		pthread_mutex_unlock(&b->in);

		struct tp_result *r;
		if (got > 0) {
			r = t.scan ? tp_scan(b->cfg, &t, 0) : tp_probe(b->cfg, &t);
		} else {
			/* A line that is no target still gets its record. */
			struct tp_target bad = {.input = t.input ? t.input : (char *)"", .host = (char *)""};
			r = tp_result_create(&bad);
			if (r) {
				r->timing.total_ms = 0;
				tp_fail(&r->found, TP_INVALID_TARGET, "%s", err);
				tp_result_judge(r, b->cfg->insecure, b->cfg->clients);
			}
		}
		tp_target_finish(&t);

		pthread_mutex_lock(&b->out);
		if (!r) {
			/* Out of memory: say so in the record's place. */
			struct tp_target none = {.input = (char *)"", .host = (char *)""};
			r = tp_result_create(&none);
		}
		if (!r && !b->ordered) {
			pthread_mutex_unlock(&b->out);
			continue;
		}
		if (b->ordered) {
			/* Out of memory: the slot must still be filled, or the window
			 * never moves on. LOST marks it: nothing to hand back. */
			if (!r)
				r = LOST;
			b->pending[index % b->window] = r;
			emit_ready(b);
		} else {
			b->done(b->ctx, index, r);
		}
		pthread_mutex_unlock(&b->out);
	}
}

struct tp_batch *
tp_batch_create(struct tp_config *cfg)
{
	struct tp_batch *batch = calloc(1, sizeof(*batch));

	if (batch)
		batch->cfg = cfg;
	return batch;
}

void
tp_batch_destroy(struct tp_batch *batch)
{
	free(batch);
}

const char *
tp_batch_error(const struct tp_batch *batch)
{
	return batch->error;
}

int
tp_batch_run(struct tp_batch *batch, unsigned parallel, bool ordered, tp_batch_next_fn *next, tp_batch_done_fn *done,
	     void *ctx)
{
	struct tp_config *cfg = batch->cfg;
	struct batch b = {.cfg = cfg, .ordered = ordered, .next = next, .done = done, .ctx = ctx};
	pthread_t *threads;
	pthread_attr_t attr;
	size_t started = 0;

	size_t fds;

	if (parallel < 1)
		parallel = 1;
	if (parallel > MAX_PARALLEL)
		parallel = MAX_PARALLEL;
	/* A probe holds one socket at a time: stay within the descriptors there are. */
	fds = tp_fd_budget();
	if (parallel > fds)
		parallel = (unsigned)fds;
	/* Everything shared is made before the threads start and only read
	 * after: the credentials, the priorities, the whole trust store. */
	if (tp_config_ready(cfg) < 0)
		return tp_err(batch->error, sizeof(batch->error), "%s", tp_config_error(cfg));
	tp_trust_preload(cfg->trust);
	b.window = (size_t)parallel * WINDOW_PER_WORKER;
	b.pending = calloc(b.window, sizeof(*b.pending));
	threads = calloc(parallel, sizeof(*threads));
	if (!b.pending || !threads) {
		free(b.pending);
		free(threads);
		return tp_err(batch->error, sizeof(batch->error), "out of memory");
	}
	pthread_mutex_init(&b.in, NULL);
	pthread_mutex_init(&b.out, NULL);
	pthread_mutex_init(&b.window_lock, NULL);
	pthread_cond_init(&b.room, NULL);
	atomic_init(&b.next_emit, 0);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	for (; started < parallel; started++)
		if (pthread_create(&threads[started], &attr, worker, &b) != 0)
			break;
	pthread_attr_destroy(&attr);
	if (started == 0)
		worker(&b);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_cond_destroy(&b.room);
	pthread_mutex_destroy(&b.in);
	pthread_mutex_destroy(&b.out);
	pthread_mutex_destroy(&b.window_lock);
	free(b.pending);
	free(threads);
	return 0;
}
