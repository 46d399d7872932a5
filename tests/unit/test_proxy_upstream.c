/* tests/unit/test_proxy_upstream.c: endpoint choice and load balancing of the proxy's
 * upstream pools (src/proxy/upstream.c) with a real loop and resolver (hosts table only,
 * no DNS traffic), and the keep-alive pool's idle list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/internal.h"
#include "eg_test.h"

struct fixture {
	struct proxy px;
	struct pworker pw;
	struct eg_loop *loop;
};

static void fx_init(struct fixture *f)
{
	static const char hosts[] = "127.0.5.1 two.example\n127.0.5.2 two.example\n";
	struct eg_dns_config dc = {0};

	memset(f, 0, sizeof(*f));
	EG_ASSERT_EQ(eg_loop_new(&f->loop), 0);
	EG_ASSERT_EQ(eg_dns_hosts_parse(hosts, sizeof(hosts) - 1, &f->px.hosts, NULL, NULL), 0);
	dc.hosts = f->px.hosts;
	dc.servers = "127.0.0.1:9"; /* never asked: every name here is in the table */
	f->pw.px = &f->px;
	f->pw.loop = f->loop;
	f->pw.rng = 12345;
	f->pw.pools = calloc(POOL_SLOTS, sizeof(*f->pw.pools));
	EG_ASSERT(f->pw.pools != NULL);
	EG_ASSERT_EQ(eg_dns_resolver_new(f->loop, &dc, &f->pw.dns), 0);
}

static void fx_done(struct fixture *f)
{
	up_pools_free(&f->pw);
	eg_loop_run(f->loop, EG_LOOP_NOWAIT); /* deferred closes */
	free(f->pw.pools);
	eg_dns_resolver_free(f->pw.dns);
	eg_dns_hosts_unref(f->px.hosts);
	eg_loop_free(f->loop);
}

static void never(void *data, int status, struct eg_dns_answer *ans)
{
	(void)data;
	(void)status;
	(void)ans;
	EG_FAIL("no lookup should be pending");
}

static const struct eg_endpoint three[] = {
        {.address = "127.0.4.1", .port = 81, .weight = 1},
        {.address = "127.0.4.2", .port = 82, .weight = 1},
        {.address = "127.0.4.3", .port = 83, .weight = 1},
};

static int pick_port(struct fixture *f, const struct eg_cluster *cl)
{
	struct eg_net_addr a;
	int r = up_pick(&f->pw, cl, (struct eg_str){0}, 0, NULL, never, NULL, NULL, &a);

	EG_ASSERT_EQ(r, 0);
	return eg_net_addr_port(&a);
}

EG_TEST(round_robin_cycles_static_endpoints)
{
	struct fixture f;
	struct eg_cluster cl = {.name = "outbound|80||rr.example",
	                        .type = EG_CLUSTER_STATIC,
	                        .endpoints = three,
	                        .nendpoints = 3,
	                        .lb = EG_LB_ROUND_ROBIN};
	int seen[3] = {0};

	fx_init(&f);
	for (int i = 0; i < 9; i++)
		seen[pick_port(&f, &cl) - 81]++;
	EG_ASSERT_EQ(seen[0], 3);
	EG_ASSERT_EQ(seen[1], 3);
	EG_ASSERT_EQ(seen[2], 3);
	fx_done(&f);
}

EG_TEST(random_stays_within_endpoints)
{
	struct fixture f;
	struct eg_cluster cl = {.name = "outbound|80||rnd.example",
	                        .type = EG_CLUSTER_STATIC,
	                        .endpoints = three,
	                        .nendpoints = 3,
	                        .lb = EG_LB_RANDOM};
	int seen[3] = {0};

	fx_init(&f);
	for (int i = 0; i < 300; i++) {
		int p = pick_port(&f, &cl);

		EG_ASSERT(p >= 81 && p <= 83);
		seen[p - 81]++;
	}
	EG_ASSERT(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
	fx_done(&f);
}

EG_TEST(least_request_avoids_the_busy_endpoint)
{
	struct fixture f;
	struct eg_cluster cl = {.name = "outbound|80||lr.example",
	                        .type = EG_CLUSTER_STATIC,
	                        .endpoints = three,
	                        .nendpoints = 2,
	                        .lb = EG_LB_LEAST_REQUEST};
	struct eg_net_addr busy;
	int busy_hits = 0;

	fx_init(&f);
	EG_ASSERT_EQ(eg_net_addr_parse("127.0.4.1:81", 12, &busy), 0);
	up_pool(&f.pw, &cl, &busy)->active = 50;
	/* two random choices: the busy one wins only when both draws are it (~1/4) */
	for (int i = 0; i < 400; i++)
		busy_hits += pick_port(&f, &cl) == 81;
	EG_ASSERT(busy_hits > 40 && busy_hits < 160);
	fx_done(&f);
}

EG_TEST(strict_dns_uses_every_address_logical_dns_the_first)
{
	struct fixture f;
	static const struct eg_endpoint ep[] = {{.address = "two.example", .port = 8080}};
	struct eg_cluster cl = {.name = "outbound|8080||two.example",
	                        .type = EG_CLUSTER_STRICT_DNS,
	                        .endpoints = ep,
	                        .nendpoints = 1,
	                        .lb = EG_LB_ROUND_ROBIN};
	struct eg_net_addr a;
	char buf[EG_NET_ADDR_STRLEN];
	int n1 = 0, n2 = 0;

	fx_init(&f);
	for (int i = 0; i < 4; i++) {
		EG_ASSERT_EQ(
		        up_pick(&f.pw, &cl, (struct eg_str){0}, 0, NULL, never, NULL, NULL, &a), 0);
		eg_net_addr_format(&a, buf, sizeof(buf));
		n1 += strcmp(buf, "127.0.5.1:8080") == 0;
		n2 += strcmp(buf, "127.0.5.2:8080") == 0;
	}
	EG_ASSERT_EQ(n1, 2);
	EG_ASSERT_EQ(n2, 2);
	cl.type = EG_CLUSTER_LOGICAL_DNS;
	for (int i = 0; i < 3; i++) {
		EG_ASSERT_EQ(
		        up_pick(&f.pw, &cl, (struct eg_str){0}, 0, NULL, never, NULL, NULL, &a), 0);
		eg_net_addr_format(&a, buf, sizeof(buf));
		EG_ASSERT_STR_EQ(buf, "127.0.5.1:8080");
	}
	fx_done(&f);
}

EG_TEST(original_dst_and_empty_clusters)
{
	struct fixture f;
	struct eg_cluster pt = {.name = "PassthroughCluster", .type = EG_CLUSTER_ORIGINAL_DST};
	struct eg_cluster bh = {.name = "BlackHoleCluster", .type = EG_CLUSTER_STATIC};
	struct eg_net_addr orig, a;
	char buf[EG_NET_ADDR_STRLEN];

	fx_init(&f);
	EG_ASSERT_EQ(eg_net_addr_parse("127.0.9.9:443", 13, &orig), 0);
	EG_ASSERT_EQ(up_pick(&f.pw, &pt, (struct eg_str){0}, 0, &orig, never, NULL, NULL, &a), 0);
	EG_ASSERT(eg_net_addr_equal(&a, &orig));
	/* explicit proxy: the CONNECT/absolute-form host, resolved (hosts table), its port */
	EG_ASSERT_EQ(up_pick(&f.pw, &pt, EG_STR("two.example"), 8443, NULL, never, NULL, NULL, &a),
	             0);
	eg_net_addr_format(&a, buf, sizeof(buf));
	EG_ASSERT(strcmp(buf, "127.0.5.1:8443") == 0 || strcmp(buf, "127.0.5.2:8443") == 0);
	EG_ASSERT_EQ(up_pick(&f.pw, &pt, (struct eg_str){0}, 80, NULL, never, NULL, NULL, &a),
	             -ENOENT);
	EG_ASSERT_EQ(up_pick(&f.pw, &bh, (struct eg_str){0}, 0, NULL, never, NULL, NULL, &a),
	             -ENOENT);
	fx_done(&f);
}

EG_TEST(connect_timeout_default_and_destination_rule)
{
	struct eg_cluster cl = {.name = "c"};

	cl.pool.connect_timeout_ns = 10000000000LL; /* compiled Envoy default, no DR */
	EG_ASSERT_EQ(up_connect_timeout(&cl), EG_PROXY_CONNECT_TIMEOUT_MS);
	cl.destination_rule = "dr.ns";
	cl.pool.connect_timeout_ns = 250000000LL;
	EG_ASSERT_EQ(up_connect_timeout(&cl), 250);
	EG_ASSERT_STR_EQ(up_errno_reason(-ECONNREFUSED),
	                 "delayed_connect_error:_Connection_refused");
}

EG_TEST(idle_pool_keeps_and_hands_back_a_connection)
{
	struct fixture f;
	struct eg_cluster cl = {.name = "outbound|80||pool.example", .type = EG_CLUSTER_STATIC};
	struct eg_net_addr a;
	struct upool *p;
	struct uconn *u;
	int sv[2];

	fx_init(&f);
	EG_ASSERT_EQ(eg_net_addr_parse("127.0.4.1:81", 12, &a), 0);
	p = up_pool(&f.pw, &cl, &a);
	EG_ASSERT(p == up_pool(&f.pw, &cl, &a)); /* one pool per (cluster, address) */
	EG_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	u = calloc(1, sizeof(*u));
	u->pw = &f.pw;
	u->pool = p;
	eg_io_tcp_init(&u->io, sv[0]);
	eg_io_watch_init(&u->watch, sv[0], NULL, NULL);
	u->connected = true;
	u->requests = 1;
	p->active = 1;
	up_release(u, true, 1000, 0);
	EG_ASSERT_EQ(p->nidle, 1u);
	EG_ASSERT_EQ(p->active, 0u);
	EG_ASSERT(up_take_idle(p) == u);
	EG_ASSERT_EQ(p->nidle, 0u);
	EG_ASSERT(up_take_idle(p) == NULL);
	/* back to the pool, then the server closes it: the idle watch drops it */
	up_release(u, true, 1000, 0);
	close(sv[1]);
	eg_loop_run(f.loop, EG_LOOP_ONCE);
	EG_ASSERT_EQ(p->nidle, 0u);
	/* max requests per connection reached: not kept */
	EG_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	u = calloc(1, sizeof(*u));
	u->pw = &f.pw;
	u->pool = p;
	eg_io_tcp_init(&u->io, sv[0]);
	eg_io_watch_init(&u->watch, sv[0], NULL, NULL);
	u->requests = 3;
	up_release(u, true, 1000, 3);
	EG_ASSERT_EQ(p->nidle, 0u);
	close(sv[1]);
	fx_done(&f);
}
