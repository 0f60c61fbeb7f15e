/*
 * clock.c: monotonic time and deadlines.
 */
#include "clock.h"

double
tp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void
tp_deadline_start(struct tp_deadline *d, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, &d->end);
	d->ms = ms;
	d->end.tv_sec += ms / 1000;
	d->end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (d->end.tv_nsec >= 1000000000L) {
		d->end.tv_sec++;
		d->end.tv_nsec -= 1000000000L;
	}
}

int
tp_deadline_left(const struct tp_deadline *d)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(d->end.tv_sec - now.tv_sec) * 1000 + (d->end.tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0)
		return 0;
	return ms > 1000000000 ? 1000000000 : (int)ms;
}
