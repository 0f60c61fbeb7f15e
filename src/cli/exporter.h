/*
 * exporter.h: tlsprobe exporter's modules. A module is a set of probe
 * options under a name, read from the YAML configuration (exporter_config.c)
 * and parsed as a command line would be, so that every option of
 * tlsprobe connect (or fetch, for the https prober) is a module setting.
 */
#ifndef TP_EXPORTER_H
#define TP_EXPORTER_H

#include "cli.h"

struct module {
	char *name;
	bool https;      /* the https prober: a request through libcurl (fetch) */
	bool scan;       /* the scan prober: what the server accepts (tlsprobe scan) */
	struct cli *cli; /* the module's settings; its config is shared by its probes */
	char **argv;     /* the words cli points into */
	int argc;
	char *summary; /* the options, as a command line, for the status page */
	bool borrowed; /* cli is the exporter's own (the default module): not freed here */
};

struct modules {
	struct module *m;
	size_t n;
	unsigned refs; /* probes using this set, plus one while it is the current set */
	char *source;  /* the file they came from, or NULL */
};

/* The modules of path (or only the default one when path is NULL), with
 * the exporter's own command line as the default module. NULL with a
 * one-line reason ("FILE:LINE: ...") in err. */
struct modules *modules_load(const char *path, struct cli *base, char *err, size_t errlen);
const struct module *modules_find(const struct modules *set, const char *name);
void modules_free(struct modules *set);

#endif
