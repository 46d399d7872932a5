/* tests/fuzz/fuzz_hosts.c: the hosts-file parser (src/dns/hosts.c) on arbitrary bytes, then
 * lookups of names taken from the input itself, so lookups hit real entries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6};
	struct eg_dns_hosts *h = NULL;
	unsigned bad = 0, first = 0;
	const char *text = (const char *)data;
	size_t pos = 0;

	if (eg_dns_hosts_parse(text, size, &h, &bad, &first) < 0)
		return 0;
	/* Every whitespace-separated token is tried as a name, with each family. */
	for (unsigned k = 0; pos < size && k < 256; k++) {
		size_t start, len;

		while (pos < size && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n'))
			pos++;
		start = pos;
		while (pos < size && text[pos] != ' ' && text[pos] != '\t' && text[pos] != '\n')
			pos++;
		len = pos - start;
		for (unsigned f = 0; f < 3; f++) {
			struct eg_dns_answer *a = NULL;

			if (eg_dns_hosts_lookup(h, text + start, len, families[f], &a) == 0) {
				if (a->n == 0 || a->refs != 0)
					abort(); /* an answer always holds an address, and is static
					          */
				for (size_t i = 0; i < a->n; i++)
					if (eg_net_addr_family(&a->addr[i]) != AF_INET &&
					    eg_net_addr_family(&a->addr[i]) != AF_INET6)
						abort();
			}
		}
	}
	(void)eg_dns_hosts_count(h);
	h = eg_dns_hosts_unref(h);
	return 0;
}
