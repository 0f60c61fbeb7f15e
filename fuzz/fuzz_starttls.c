/*
 * Fuzz target: the STARTTLS dialogue (starttls.c) against a server whose
 * every byte is the input. The first byte picks the protocol; the rest is
 * what the server says, all at once, before it closes its side. Whatever it
 * says, the dialogue ends (the deadline and the line budget bound it) with
 * either a socket ready for TLS or exactly one error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "starttls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The first five in their old places, so the corpus keeps its meaning. */
	static const char *const protos[] = {"smtp",  "imap", "pop3", "ftp",  "postgres", "lmtp",       "nntp",
					     "sieve", "irc",  "xmpp", "ldap", "mysql",    "xmpp-server"};
	struct tp_findings f = {0};
	struct tp_deadline d;
	int sv[2], ret;

	if (size == 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	/* The server's words, then its end of the conversation. What does not
	 * fit in the socket's buffer is cut: the dialogue must cope with any
	 * prefix anyway. */
	size_t len = size - 1 > 65536 ? 65536 : size - 1;
	if (len && write(sv[1], data + 1, len) < 0)
		abort();
	shutdown(sv[1], SHUT_WR);
	tp_deadline_start(&d, 200);
	ret = tp_starttls(&f, sv[0], protos[data[0] % (sizeof(protos) / sizeof(protos[0]))], "example.test", &d);
	if ((ret == 0) != (f.error == NULL) || f.n != 0)
		abort();
	if (f.error && (!f.error->message || !f.error->fix))
		abort();
	tp_findings_finish(&f);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
