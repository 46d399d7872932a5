/* src/ctl/ca.c: `egressctl ca init|issue`: the mesh root CA in the store and workload
 * certificates for proxies run by hand (docs/reference/identity.md). */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "core/str.h"
#include "ctl/ctl.h"
#include "tls/tls.h"

#define CA_USAGE_INIT  "ca init [--trust-domain TD] [--force]"
#define CA_USAGE_ISSUE "ca issue --namespace NS --service-account SA --out DIR [--ttl 24h]"

/* STORE/ca, where STORE is --store DIR, $EGRESS_STORE or $HOME/.egressd/store. */
static int ca_dir(const struct eg_ctl *ctl, char *out, size_t cap)
{
	const char *home = getenv("HOME");
	int n;

	if (ctl->store_dir && ctl->store_dir[0])
		n = snprintf(out, cap, "%s/ca", ctl->store_dir);
	else if (home && home[0])
		n = snprintf(out, cap, "%s/.egressd/store/ca", home);
	else {
		eg_ctl_err("no store: pass --store DIR or set EGRESS_STORE (HOME is not set)");
		return -ENOENT;
	}
	if (n < 0 || (size_t)n >= cap) {
		eg_ctl_err("store path too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

/* Go-style durations: "24h", "90m", "1h30m", "3600s", "7d"; a bare number is seconds. */
static int parse_duration(const char *s, uint64_t *ret)
{
	uint64_t total = 0;

	if (!*s)
		return -EINVAL;
	if (strspn(s, "0123456789") == strlen(s))
		return eg_parse_u64(eg_str_c(s), UINT64_MAX, ret) < 0 ? -ERANGE : 0;
	while (*s) {
		uint64_t v = 0, unit;
		const char *start = s;

		while (*s >= '0' && *s <= '9') {
			if (v > (UINT64_MAX - 9) / 10)
				return -ERANGE;
			v = v * 10 + (uint64_t)(*s++ - '0');
		}
		if (s == start)
			return -EINVAL;
		switch (*s++) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		default:
			return -EINVAL;
		}
		if (v > (UINT64_MAX - total) / unit)
			return -ERANGE;
		total += v * unit;
	}
	*ret = total;
	return 0;
}

static const char *utc(time_t t, char *buf, size_t cap)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, cap, "@%lld", (long long)t);
	return buf;
}

static int ca_init(struct eg_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"trust-domain", required_argument, NULL, 't'},
	        {"force", no_argument, NULL, 'f'},
	        {NULL, 0, NULL, 0},
	};
	const char *td = "cluster.local";
	struct eg_tls_ca *ca = NULL;
	char dir[4096], until[32];
	bool force = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			td = optarg;
			break;
		case 'f':
			force = true;
			break;
		default:
			fprintf(stderr, "usage: %s %s\n", ctl->prog, CA_USAGE_INIT);
			return EG_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s %s\n", ctl->prog, CA_USAGE_INIT);
		return EG_EXIT_USAGE;
	}
	if (eg_tls_spiffe_check_td(td) < 0) {
		eg_ctl_err("invalid trust domain \"%s\": lowercase letters, digits, '.', '-' and "
		           "'_', at most 255 characters",
		           td);
		return EG_EXIT_REFUSED;
	}
	if (ca_dir(ctl, dir, sizeof(dir)) < 0)
		return EG_EXIT_REFUSED;
	r = eg_tls_ca_create(td, 0, &ca);
	if (r < 0) {
		eg_ctl_err("cannot create the CA: %s", strerror(-r));
		return EG_EXIT_REFUSED;
	}
	r = eg_tls_ca_save(ca, dir, force);
	if (r == -EEXIST) {
		eg_ctl_err("a mesh CA already exists in %s; --force replaces it (certificates it "
		           "issued will no longer verify)",
		           dir);
		goto out_refused;
	}
	if (r < 0) {
		eg_ctl_err("cannot write the CA to %s: %s", dir, strerror(-r));
		goto out_refused;
	}
	printf("mesh CA created in %s (trust domain %s, valid until %s)\n", dir, td,
	       utc(eg_tls_ca_not_after(ca), until, sizeof(until)));
	eg_tls_ca_free(ca);
	return EG_EXIT_OK;
out_refused:
	eg_tls_ca_free(ca);
	return EG_EXIT_REFUSED;
}

static int ca_issue(struct eg_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"namespace", required_argument, NULL, 'n'},
	        {"service-account", required_argument, NULL, 's'},
	        {"out", required_argument, NULL, 'o'},
	        {"ttl", required_argument, NULL, 't'},
	        {NULL, 0, NULL, 0},
	};
	const char *ns = NULL, *sa = NULL, *out = NULL, *ttl_arg = "24h";
	struct eg_tls_cert cert;
	struct eg_tls_ca *ca = NULL;
	char dir[4096], until[32];
	uint64_t ttl;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			ns = optarg;
			break;
		case 's':
			sa = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			ttl_arg = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s %s\n", ctl->prog, CA_USAGE_ISSUE);
			return EG_EXIT_USAGE;
		}
	}
	if (optind != argc || !ns || !sa || !out || !out[0]) {
		if (optind == argc)
			eg_ctl_err("ca issue needs --namespace, --service-account and --out");
		fprintf(stderr, "usage: %s %s\n", ctl->prog, CA_USAGE_ISSUE);
		return EG_EXIT_USAGE;
	}
	if (parse_duration(ttl_arg, &ttl) < 0) {
		eg_ctl_err("invalid --ttl \"%s\" (examples: 24h, 90m, 1h30m, 3600s, 7d)", ttl_arg);
		return EG_EXIT_USAGE;
	}
	if (ttl < EG_TLS_CERT_TTL_MIN || ttl > EG_TLS_CERT_TTL_MAX) {
		eg_ctl_err("--ttl %s is out of range (1m to 366d)", ttl_arg);
		return EG_EXIT_REFUSED;
	}
	if (eg_tls_spiffe_check_ns(ns) < 0) {
		eg_ctl_err("invalid namespace \"%s\": a DNS-1123 label (lowercase letters, digits "
		           "and '-', at most 63 characters)",
		           ns);
		return EG_EXIT_REFUSED;
	}
	if (eg_tls_spiffe_check_sa(sa) < 0) {
		eg_ctl_err("invalid service account \"%s\": a DNS-1123 subdomain (lowercase "
		           "letters, digits, '-' and '.', at most 253 characters)",
		           sa);
		return EG_EXIT_REFUSED;
	}
	if (ca_dir(ctl, dir, sizeof(dir)) < 0)
		return EG_EXIT_REFUSED;
	r = eg_tls_ca_load(dir, &ca);
	if (r == -ENOENT) {
		eg_ctl_err("no mesh CA in %s: run '%s ca init' first", dir, ctl->prog);
		return EG_EXIT_REFUSED;
	}
	if (r < 0) {
		eg_ctl_err("cannot load the mesh CA from %s: %s", dir,
		           r == -EBADMSG ? "unreadable or mismatched files" : strerror(-r));
		return EG_EXIT_REFUSED;
	}
	r = eg_tls_ca_issue(ca, ns, sa, ttl, 0, &cert);
	if (r == -ERANGE) {
		eg_ctl_err("a certificate valid for %s would outlive the mesh CA (valid until %s)",
		           ttl_arg, utc(eg_tls_ca_not_after(ca), until, sizeof(until)));
		goto out_refused;
	}
	if (r < 0) {
		eg_ctl_err("cannot issue the certificate: %s", strerror(-r));
		goto out_refused;
	}
	r = eg_tls_cert_write(&cert, out);
	if (r < 0) {
		eg_ctl_err("cannot write to %s: %s", out, strerror(-r));
		eg_tls_cert_done(&cert);
		goto out_refused;
	}
	printf("issued %s, valid until %s, in %s (cert.pem, key.pem, ca.pem)\n", cert.spiffe_id,
	       utc(cert.not_after, until, sizeof(until)), out);
	eg_tls_cert_done(&cert);
	eg_tls_ca_free(ca);
	return EG_EXIT_OK;
out_refused:
	eg_tls_ca_free(ca);
	return EG_EXIT_REFUSED;
}

int eg_ctl_ca(struct eg_ctl *ctl, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "init") == 0) {
		if (eg_ctl_help(ctl, "ca", argc, argv))
			return EG_EXIT_OK;
		return ca_init(ctl, argc - 1, argv + 1);
	}
	if (argc >= 2 && strcmp(argv[1], "issue") == 0) {
		if (eg_ctl_help(ctl, "ca", argc, argv))
			return EG_EXIT_OK;
		return ca_issue(ctl, argc - 1, argv + 1);
	}
	if (eg_ctl_help(ctl, "ca", argc, argv))
		return EG_EXIT_OK;
	if (argc >= 2)
		eg_ctl_err("unknown ca subcommand \"%s\" (init or issue)", argv[1]);
	return eg_ctl_usage(ctl, "ca");
}
