/* src/tls/alert.c: fatal TLS alerts sent in clear text before a denied connection is
 * closed, so the client's error names the reason ("tlsv1 alert access denied") instead
 * of a bare "connection reset" (SPEC §0). No OpenSSL: this runs before any handshake. */
#include <errno.h>
#include <stdint.h>

#include "core/compiler.h"
#include "tls/tls.h"

#define CT_ALERT    0x15
#define LEVEL_FATAL 2

static const char *name_of(unsigned description)
{
	switch (description) {
	case EG_TLS_ALERT_HANDSHAKE_FAILURE:
		return "handshake_failure";
	case EG_TLS_ALERT_ACCESS_DENIED:
		return "access_denied";
	case EG_TLS_ALERT_DECODE_ERROR:
		return "decode_error";
	case EG_TLS_ALERT_PROTOCOL_VERSION:
		return "protocol_version";
	case EG_TLS_ALERT_INTERNAL_ERROR:
		return "internal_error";
	case EG_TLS_ALERT_UNRECOGNIZED_NAME:
		return "unrecognized_name";
	default:
		return NULL;
	}
}

const char *eg_tls_alert_name(unsigned description)
{
	const char *n = name_of(description);

	return n ? n : "unknown";
}

/* The record version to answer in. A TLS 1.3 client sends legacy_version 0x0303 and
 * expects 0x0303 on every record after its ClientHello; older clients expect their own
 * version. Out-of-range values fall back to 0x0301, which every client accepts before it
 * has seen a ServerHello. */
static uint16_t answer_version(const struct eg_tls_hello *h)
{
	uint16_t v = 0;

	if (h)
		v = h->legacy_version ? h->legacy_version : h->record_version;
	if (v < 0x0301 || v > 0x0303)
		v = 0x0301;
	return v;
}

ssize_t eg_tls_alert_write(void *out, size_t cap, const struct eg_tls_hello *h,
                           enum eg_tls_alert description)
{
	uint8_t *o = out;
	uint16_t v;

	if (!out || cap < EG_TLS_ALERT_LEN)
		return -ENOSPC;
	if (!name_of(description))
		return -EINVAL;
	v = answer_version(h);
	o[0] = CT_ALERT;
	o[1] = (uint8_t)(v >> 8);
	o[2] = (uint8_t)v;
	o[3] = 0;
	o[4] = 2; /* length: level + description */
	o[5] = LEVEL_FATAL;
	o[6] = (uint8_t)description;
	return EG_TLS_ALERT_LEN;
}
