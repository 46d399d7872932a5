/* src/dns/dns-int.h: helpers shared by the files of src/dns only. */
#ifndef EG_DNS_DNS_INT_H
#define EG_DNS_DNS_INT_H

#include <stddef.h>

#define EG_DNS_NAME_MAX 253

/* Checks a DNS name (labels of 1..63 letters, digits, '-' or '_', at most 253 bytes; one
 * trailing dot allowed and dropped) and writes it lowercased and NUL-terminated to @out
 * (EG_DNS_NAME_MAX + 1 bytes). 0 or -EINVAL. */
int eg_dns_name_normalize(const char *s, size_t n, char *out, size_t *ret_len);

#endif /* EG_DNS_DNS_INT_H */
