/*
 * clock.h: monotonic time and deadlines. Every wait in the core is bounded
 * by a deadline started from the probe's --timeout.
 */
#ifndef TP_CLOCK_H
#define TP_CLOCK_H

#include <time.h>

struct tp_deadline {
	struct timespec end;
	unsigned ms; /* the time it was started with, for messages */
};

/* Milliseconds on the monotonic clock (for durations only). */
double tp_now_ms(void);
void tp_deadline_start(struct tp_deadline *d, unsigned ms);
/* Milliseconds left, 0 once past. */
int tp_deadline_left(const struct tp_deadline *d);

#endif
