/* src/tls/spiffe.c: mesh identities as Istio writes them, spiffe://TD/ns/NS/sa/SA in the
 * URI SAN of a workload certificate: build, parse (strictly: an id is compared byte for
 * byte, so two spellings of one id must not both pass), extract from a certificate, and
 * verify a peer certificate against the mesh CA and an expected id. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "core/compiler.h"
#include "tls/tls.h"

#define SCHEME "spiffe://"

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* DNS-1123 label: 1..@max of [a-z0-9-], starting and ending alphanumeric. */
static bool dns_label(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* DNS-1123 subdomain: labels joined by dots, <= 253 in all. */
static bool dns_subdomain(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > EG_TLS_SA_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!dns_label(s + start, i - start, 63))
			return false;
		start = i + 1;
	}
	return true;
}

/* SPIFFE trust domain: [a-z0-9._-], <= 255, no empty dot-separated label. */
static bool trust_domain(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > EG_TLS_TD_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!lower_alnum(s[i]) && s[i] != '-' && s[i] != '_')
			return false;
		label++;
	}
	return label > 0;
}

int eg_tls_spiffe_check_td(const char *td)
{
	return td && trust_domain(td, strlen(td)) ? 0 : -EINVAL;
}

int eg_tls_spiffe_check_ns(const char *ns)
{
	return ns && dns_label(ns, strlen(ns), EG_TLS_NS_MAX) ? 0 : -EINVAL;
}

int eg_tls_spiffe_check_sa(const char *sa)
{
	return sa && dns_subdomain(sa, strlen(sa)) ? 0 : -EINVAL;
}

ssize_t eg_tls_spiffe_format(char *out, size_t cap, const char *td, const char *ns, const char *sa)
{
	int n;

	if (eg_tls_spiffe_check_td(td) < 0 || eg_tls_spiffe_check_ns(ns) < 0 ||
	    eg_tls_spiffe_check_sa(sa) < 0)
		return -EINVAL;
	n = snprintf(out, cap, SCHEME "%s/ns/%s/sa/%s", td, ns, sa);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

/* Takes the next "/" + literal + "/" + segment from @s; the segment ends at the next '/'
 * or at the end. */
static bool take_segment(struct eg_str *s, const char *lit, struct eg_str *ret)
{
	size_t l = strlen(lit), i;

	if (s->len < l + 2 || s->ptr[0] != '/' || memcmp(s->ptr + 1, lit, l) != 0 ||
	    s->ptr[l + 1] != '/')
		return false;
	s->ptr += l + 2;
	s->len -= l + 2;
	for (i = 0; i < s->len && s->ptr[i] != '/'; i++)
		;
	*ret = (struct eg_str){s->ptr, i};
	s->ptr += i;
	s->len -= i;
	return true;
}

int eg_tls_spiffe_parse(struct eg_str uri, struct eg_tls_spiffe_id *ret)
{
	struct eg_str rest, td, ns, sa;
	size_t i;

	if (!uri.ptr || uri.len < sizeof(SCHEME) - 1 ||
	    memcmp(uri.ptr, SCHEME, sizeof(SCHEME) - 1) != 0)
		return -EINVAL;
	rest = (struct eg_str){uri.ptr + sizeof(SCHEME) - 1, uri.len - (sizeof(SCHEME) - 1)};
	for (i = 0; i < rest.len && rest.ptr[i] != '/'; i++)
		;
	td = (struct eg_str){rest.ptr, i};
	rest.ptr += i;
	rest.len -= i;
	/* the character checks refuse '@', ':', '%', '?', '#', uppercase and NUL */
	if (!trust_domain(td.ptr, td.len))
		return -EINVAL;
	if (!take_segment(&rest, "ns", &ns) || !dns_label(ns.ptr, ns.len, EG_TLS_NS_MAX))
		return -EINVAL;
	if (!take_segment(&rest, "sa", &sa) || !dns_subdomain(sa.ptr, sa.len) || rest.len != 0)
		return -EINVAL;
	memcpy(ret->td, td.ptr, td.len);
	ret->td[td.len] = '\0';
	memcpy(ret->ns, ns.ptr, ns.len);
	ret->ns[ns.len] = '\0';
	memcpy(ret->sa, sa.ptr, sa.len);
	ret->sa[sa.len] = '\0';
	return 0;
}

ssize_t eg_tls_spiffe_from_x509(const struct x509_st *cert, char *out, size_t cap)
{
	GENERAL_NAMES *names;
	struct eg_tls_spiffe_id id;
	struct eg_str found = {NULL, 0};
	unsigned count = 0;
	ssize_t r;

	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (!names)
		return -ENOENT;
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		const unsigned char *p;
		int n;

		if (gn->type != GEN_URI)
			continue;
		p = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
		n = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
		if (!p || n < (int)sizeof(SCHEME) - 1 ||
		    strncasecmp((const char *)p, SCHEME, sizeof(SCHEME) - 1) != 0)
			continue;
		count++;
		found = (struct eg_str){(const char *)p, (size_t)n};
	}
	if (count == 0)
		r = -ENOENT;
	else if (count > 1 || eg_tls_spiffe_parse(found, &id) < 0)
		r = -EBADMSG; /* an X509-SVID has exactly one; a malformed one is no identity */
	else if (found.len >= cap)
		r = -ENOSPC;
	else {
		memcpy(out, found.ptr, found.len);
		out[found.len] = '\0';
		r = (ssize_t)found.len;
	}
	GENERAL_NAMES_free(names);
	return r;
}

static int verify_chain(const struct eg_tls_verify *v, const struct x509_st *peer,
                        struct stack_st_X509 *untrusted, const char **why)
{
	X509_STORE *store;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	int r = -ENOMEM;

	store = X509_STORE_new();
	if (!store || X509_STORE_add_cert(store, (X509 *)v->ca) != 1)
		goto out_store;
	ctx = X509_STORE_CTX_new();
	if (!ctx || X509_STORE_CTX_init(ctx, store, (X509 *)peer, untrusted) != 1)
		goto out_ctx;
	param = X509_STORE_CTX_get0_param(ctx);
	if (v->now)
		X509_VERIFY_PARAM_set_time(param, v->now);
	/* the purpose checks extendedKeyUsage (and the CA's basicConstraints/keyUsage) */
	if (X509_STORE_CTX_set_purpose(ctx, v->role == EG_TLS_PEER_SERVER
	                                            ? X509_PURPOSE_SSL_SERVER
	                                            : X509_PURPOSE_SSL_CLIENT) != 1)
		goto out_ctx;
	if (X509_verify_cert(ctx) == 1) {
		r = 0;
	} else {
		*why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
		r = -EACCES;
	}
out_ctx:
	X509_STORE_CTX_free(ctx);
out_store:
	X509_STORE_free(store);
	return r;
}

int eg_tls_spiffe_verify(const struct eg_tls_verify *v, const struct x509_st *peer,
                         struct stack_st_X509 *untrusted, char *ret_id, size_t cap,
                         const char **reterr_reason)
{
	char id[EG_TLS_SPIFFE_MAX + 1];
	struct eg_tls_spiffe_id parsed;
	const char *why = NULL;
	ssize_t n;
	int r;

	if (!v || !v->ca || !peer || (!v->expect_id && !v->trust_domain)) {
		why = "verification without a CA or an expected identity";
		r = -EINVAL;
		goto out;
	}
	r = verify_chain(v, peer, untrusted, &why);
	if (r < 0) {
		if (!why)
			why = "out of memory";
		goto out;
	}
	n = eg_tls_spiffe_from_x509(peer, id, sizeof(id));
	if (n < 0) {
		r = (int)n;
		why = r == -ENOENT ? "peer certificate has no SPIFFE id"
		                   : "peer certificate has a malformed or several SPIFFE ids";
		goto out;
	}
	if (v->expect_id) {
		if (strcmp(id, v->expect_id) != 0) {
			why = "peer SPIFFE id is not the expected one";
			r = -EPERM;
			goto out;
		}
	} else if (eg_tls_spiffe_parse(eg_str_c(id), &parsed) < 0 ||
	           strcmp(parsed.td, v->trust_domain) != 0) {
		why = "peer SPIFFE id is from another trust domain";
		r = -EPERM;
		goto out;
	}
	if ((size_t)n >= cap) {
		why = "no room for the peer id";
		r = -ENOSPC;
		goto out;
	}
	memcpy(ret_id, id, (size_t)n + 1);
	r = 0;
out:
	if (r < 0 && reterr_reason)
		*reterr_reason = why;
	return r;
}
