/*
 * cache.c: the online checks' cache. Entries are the bytes a URL served,
 * with the time until which they may be used (an OCSP answer's or a CRL's
 * nextUpdate, an issuer's not_after, capped by the caller). On disk each is
 * a file named by the SHA-256 of its key: "tlsprobe-cache 1 UNTIL\n" and
 * the bytes, written to a temporary file and renamed. A file that does not
 * read as one is ignored; the cache never decides a verdict by itself, the
 * caller checks what it gets as if just fetched.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/crypto.h>

#include "cache.h"
#include "file.h"
#include "util.h"

enum { MEMORY_ENTRIES = 4096 };

struct entry {
	char *key;
	unsigned char *data;
	size_t len;
	time_t until;
	bool fetching; /* a probe is fetching it now */
	struct entry *next;
};

struct tp_cache {
	char *dir;
	pthread_mutex_t lock;
	pthread_cond_t done;
	struct entry *entries;
	size_t n;
};

struct tp_cache *
tp_cache_create(const char *dir)
{
	struct tp_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->done, NULL);
	if (dir && *dir) {
		/* Its parent too ($HOME/.cache on a new machine); nothing further up. */
		char *parent = strdup(dir), *slash = parent ? strrchr(parent, '/') : NULL;
		if (slash && slash != parent) {
			*slash = '\0';
			mkdir(parent, 0700);
		}
		free(parent);
	}
	if (dir && *dir && (mkdir(dir, 0700) == 0 || errno == EEXIST)) {
		struct stat st;
		/* Only a directory of this user: another's could feed us answers. */
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid())
			c->dir = strdup(dir);
	}
	return c;
}

void
tp_cache_destroy(struct tp_cache *c)
{
	if (!c)
		return;
	while (c->entries) {
		struct entry *e = c->entries;
		c->entries = e->next;
		free(e->key);
		free(e->data);
		free(e);
	}
	free(c->dir);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->done);
	free(c);
}

static struct entry *
find(struct tp_cache *c, const char *key)
{
	for (struct entry *e = c->entries; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* The file of key: DIR/SHA256-HEX. */
static char *
path_of(const struct tp_cache *c, const char *key)
{
	unsigned char md[32];
	char hex[65];

	if (!c->dir || gnutls_hash_fast(GNUTLS_DIG_SHA256, key, strlen(key), md) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return tp_strdupf("%s/%s", c->dir, hex);
}

static bool
disk_get(const struct tp_cache *c, const char *key, gnutls_datum_t *out, time_t now)
{
	char *path = path_of(c, key), why[200];
	gnutls_datum_t file = {NULL, 0};
	long long until = 0;
	int head = 0;
	bool ok = false;

	if (path && tp_file_read(path, &file, why, sizeof(why)) == 0 &&
	    sscanf((const char *)file.data, "tlsprobe-cache 1 %lld\n%n", &until, &head) == 1 && head > 0 &&
	    (unsigned)head <= file.size && until > now && (out->data = malloc(file.size - (unsigned)head + 1))) {
		memcpy(out->data, file.data + head, file.size - (unsigned)head);
		out->size = file.size - (unsigned)head;
		ok = true;
	}
	gnutls_free(file.data);
	free(path);
	return ok;
}

static void
disk_put(const struct tp_cache *c, const char *key, const gnutls_datum_t *data, time_t until)
{
	char *path = path_of(c, key), err[300];
	char head[64];
	int n = snprintf(head, sizeof(head), "tlsprobe-cache 1 %lld\n", (long long)until);
	gnutls_datum_t file = {malloc((size_t)n + data->size), (unsigned)n + data->size};

	if (path && file.data) {
		memcpy(file.data, head, (size_t)n);
		memcpy(file.data + n, data->data, data->size);
		/* A cache that cannot be written is a cache in memory. */
		(void)tp_file_write_atomic(path, &file, 0600, err, sizeof(err));
	}
	free(file.data);
	free(path);
}

int
tp_cache_get(struct tp_cache *c, const char *key, gnutls_datum_t *out, const struct tp_deadline *d)
{
	struct entry *e;
	int found = 0;

	*out = (gnutls_datum_t){NULL, 0};
	pthread_mutex_lock(&c->lock);
	while ((e = find(c, key)) && e->fetching && tp_deadline_left(d) > 0) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 50 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&c->done, &c->lock, &until);
	}
	if (e && !e->fetching && e->until > time(NULL) && (out->data = malloc(e->len + 1))) {
		memcpy(out->data, e->data, e->len);
		out->size = (unsigned)e->len;
		found = 1;
	} else if (!e || !e->fetching) {
		/* Ours to fetch: the disk first, then the caller. */
		if (!e && c->n < MEMORY_ENTRIES && (e = calloc(1, sizeof(*e))) && (e->key = strdup(key))) {
			e->next = c->entries;
			c->entries = e;
			c->n++;
		} else if (e && !e->key) {
			free(e);
			e = NULL;
		}
		if (e)
			e->fetching = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (!found && disk_get(c, key, out, time(NULL))) {
		pthread_mutex_lock(&c->lock);
		if ((e = find(c, key)) && e->fetching) {
			unsigned char *copy = malloc(out->size + 1);
			if (copy) {
				memcpy(copy, out->data, out->size);
				free(e->data);
				e->data = copy;
				e->len = out->size;
				/* Valid as the file said; read again from it when in doubt. */
				e->until = time(NULL) + 60;
			}
			e->fetching = false;
			pthread_cond_broadcast(&c->done);
		}
		pthread_mutex_unlock(&c->lock);
		found = 1;
	}
	return found;
}

void
tp_cache_put(struct tp_cache *c, const char *key, const gnutls_datum_t *data, time_t until)
{
	struct entry *e;

	pthread_mutex_lock(&c->lock);
	if ((e = find(c, key))) {
		e->fetching = false;
		if (until <= time(NULL)) {
			free(e->data);
			e->data = NULL;
			e->len = 0;
			e->until = 0;
		} else if (data && data->size) {
			unsigned char *copy = malloc(data->size);
			if (copy) {
				memcpy(copy, data->data, data->size);
				free(e->data);
				e->data = copy;
				e->len = data->size;
				e->until = until;
			}
		}
		pthread_cond_broadcast(&c->done);
	}
	pthread_mutex_unlock(&c->lock);
	if (until > time(NULL) && data && data->size) {
		disk_put(c, key, data, until);
	} else {
		/* Not usable: not kept on disk either (a file that was is gone). */
		char *path = path_of(c, key);
		if (path)
			unlink(path);
		free(path);
	}
}

/* Memos live in the same list under keys of their own: "\001" and the key. */
int
tp_cache_memo_get(struct tp_cache *c, const char *key, void *out, size_t len)
{
	char *k = tp_strdupf("\001%s", key);
	struct entry *e;
	int found = 0;

	if (!k)
		return 0;
	pthread_mutex_lock(&c->lock);
	if ((e = find(c, k)) && e->len == len && e->until > time(NULL)) {
		memcpy(out, e->data, len);
		found = 1;
	}
	pthread_mutex_unlock(&c->lock);
	free(k);
	return found;
}

void
tp_cache_memo_put(struct tp_cache *c, const char *key, const void *data, size_t len, time_t until)
{
	char *k = tp_strdupf("\001%s", key);
	unsigned char *copy = malloc(len ? len : 1);
	struct entry *e = NULL;

	if (!k || !copy) {
		free(k);
		free(copy);
		return;
	}
	memcpy(copy, data, len);
	pthread_mutex_lock(&c->lock);
	if (!(e = find(c, k)) && c->n < MEMORY_ENTRIES && (e = calloc(1, sizeof(*e)))) {
		e->key = k;
		k = NULL;
		e->next = c->entries;
		c->entries = e;
		c->n++;
	}
	if (e) {
		free(e->data);
		e->data = copy;
		e->len = len;
		e->until = until;
		copy = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	free(k);
	free(copy);
}
