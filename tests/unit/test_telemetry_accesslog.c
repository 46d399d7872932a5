/* tests/unit/test_telemetry_accesslog.c: response flags, Istio's TEXT and JSON lines, user
 * formats and their errors. */
#include "../../src/telemetry/accesslog.c"

#include "eg_test.h"

/* 2024-08-13T00:31:47.690Z, the start time of SPEC §1.7's examples */
static struct timespec spec_time(void)
{
	struct tm tm = {.tm_year = 124,
	                .tm_mon = 7,
	                .tm_mday = 13,
	                .tm_hour = 0,
	                .tm_min = 31,
	                .tm_sec = 47};

	return (struct timespec){timegm(&tm), 690 * 1000000L + 123456};
}

static char *render(const struct eg_accesslog_format *f, const struct eg_accesslog_entry *e)
{
	static struct eg_buf b = EG_BUF_INIT(1 << 20);

	b.len = 0;
	if (eg_accesslog_format(f, e, &b) < 0)
		return NULL;
	return (char *)eg_buf_cstr(&b);
}

static struct eg_accesslog_format *compile(enum eg_accesslog_encoding enc, const char *spec)
{
	struct eg_accesslog_format *f = NULL;
	char err[256];
	int r = eg_accesslog_format_new(enc, spec, &f, err, sizeof(err));

	if (r < 0) {
		printf("# compile failed: %s\n", err);
		return NULL;
	}
	return f;
}

/* SPEC §1.7, client sidecar example */
static void http_sidecar_entry(struct eg_accesslog_entry *e)
{
	eg_accesslog_entry_init(e);
	e->start = spec_time();
	e->method = EG_STR("GET");
	e->path = EG_STR("/status/418");
	e->protocol = EG_STR("HTTP/1.1");
	e->response_code = 418;
	e->response_code_details = EG_STR("via_upstream");
	e->bytes_received = 0;
	e->bytes_sent = 135;
	e->duration_ms = 12;
	e->upstream_service_time_ms = 11;
	e->user_agent = EG_STR("curl/8.9.1");
	e->request_id = EG_STR("cdecaca5-...");
	e->authority = EG_STR("httpbin:8000");
	e->upstream_host = EG_STR("10.244.0.13:8080");
	e->upstream_cluster = EG_STR("outbound|8000||httpbin.default.svc.cluster.local");
	e->upstream_local_address = EG_STR("10.244.0.12:53336");
	e->downstream_local_address = EG_STR("10.0.112.220:8000");
	e->downstream_remote_address = EG_STR("10.244.0.12:42360");
	e->route_name = EG_STR("default");
}

EG_TEST(flags_in_envoy_order)
{
	struct eg_buf b = EG_BUF_INIT(4096);

	EG_ASSERT_EQ(eg_accesslog_flags_format(0, false, &b), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "-");
	b.len = 0;
	EG_ASSERT_EQ(eg_accesslog_flags_format(EG_RF_URX | EG_RF_UF, false, &b), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "UF,URX");
	b.len = 0;
	EG_ASSERT_EQ(eg_accesslog_flags_format(EG_RF_DC | EG_RF_UC | EG_RF_UH, false, &b), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "UH,UC,DC");
	b.len = 0;
	EG_ASSERT_EQ(eg_accesslog_flags_format(EG_RF_NR | EG_RF_UT, true, &b), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "UpstreamRequestTimeout,NoRouteFound");
	b.len = 0;
	/* every flag at once, long names: fits the scratch and keeps the order */
	EG_ASSERT_EQ(eg_accesslog_flags_format((1u << EG_RF_COUNT) - 1, true, &b), 0);
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b), "FailedLocalHealthCheck,NoHealthyUpstream,");
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b), ",DownstreamRemoteReset,UnconditionalDropOverload");
	eg_buf_done(&b);
}

EG_TEST(flags_parse_round_trip)
{
	uint32_t f = 0;

	EG_ASSERT_EQ(eg_accesslog_flags_parse(EG_STR("UF,URX"), &f), 0);
	EG_ASSERT_EQ(f, EG_RF_UF | EG_RF_URX);
	EG_ASSERT_EQ(eg_accesslog_flags_parse(EG_STR("-"), &f), 0);
	EG_ASSERT_EQ(f, 0);
	EG_ASSERT_EQ(eg_accesslog_flags_parse(EG_STR("UDO"), &f), 0);
	EG_ASSERT_EQ(f, EG_RF_UDO);
	EG_ASSERT_EQ(eg_accesslog_flags_parse(EG_STR("UF,"), &f), -EINVAL);
	EG_ASSERT_EQ(eg_accesslog_flags_parse(EG_STR("XX"), &f), -EINVAL);
	EG_ASSERT_EQ(eg_accesslog_flags_parse(EG_STR(""), &f), -EINVAL);
}

EG_TEST(text_http_request_matches_spec_example)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_TEXT, NULL);
	struct eg_accesslog_entry e;

	EG_ASSERT(f != NULL);
	http_sidecar_entry(&e);
	EG_ASSERT_STR_EQ(
	        render(f, &e),
	        "[2024-08-13T00:31:47.690Z] \"GET /status/418 HTTP/1.1\" 418 - via_upstream - "
	        "\"-\" 0 135 12 11 \"-\" \"curl/8.9.1\" \"cdecaca5-...\" \"httpbin:8000\" "
	        "\"10.244.0.13:8080\" outbound|8000||httpbin.default.svc.cluster.local "
	        "10.244.0.12:53336 10.0.112.220:8000 10.244.0.12:42360 - default\n");
	eg_accesslog_format_free(f);
}

EG_TEST(text_gateway_line_matches_spec_example)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_TEXT, "");
	struct eg_accesslog_entry e;

	EG_ASSERT(f != NULL);
	eg_accesslog_entry_init(&e);
	e.start = spec_time();
	e.method = EG_STR("GET");
	e.path = EG_STR("/politics");
	e.protocol = EG_STR("HTTP/2");
	e.response_code = 301;
	e.response_code_details = EG_STR("via_upstream");
	e.duration_ms = 41;
	e.upstream_service_time_ms = 41;
	e.x_forwarded_for = EG_STR("10.244.0.67");
	e.user_agent = EG_STR("curl/8.4.0");
	e.request_id = EG_STR("085155d7-...");
	e.authority = EG_STR("edition.cnn.com");
	e.upstream_host = EG_STR("151.101.3.5:80");
	e.upstream_cluster = EG_STR("outbound|80||edition.cnn.com");
	e.upstream_local_address = EG_STR("10.244.0.61:35544");
	e.downstream_local_address = EG_STR("10.244.0.61:8080");
	e.downstream_remote_address = EG_STR("10.244.0.67:36494");
	EG_ASSERT_STR_EQ(render(f, &e),
	                 "[2024-08-13T00:31:47.690Z] \"GET /politics HTTP/2\" 301 - via_upstream - "
	                 "\"-\" 0 0 41 41 \"10.244.0.67\" \"curl/8.4.0\" \"085155d7-...\" "
	                 "\"edition.cnn.com\" \"151.101.3.5:80\" outbound|80||edition.cnn.com "
	                 "10.244.0.61:35544 10.244.0.61:8080 10.244.0.67:36494 - -\n");
	eg_accesslog_format_free(f);
}

EG_TEST(text_blackhole_tcp_close_matches_spec_example)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_TEXT, NULL);
	struct eg_accesslog_entry e;

	EG_ASSERT(f != NULL);
	eg_accesslog_entry_init(&e);
	e.start = spec_time();
	e.response_flags = EG_RF_UH;
	e.duration_ms = 0;
	e.upstream_cluster = EG_STR("BlackHoleCluster");
	e.downstream_local_address = EG_STR("185.199.109.133:443");
	e.downstream_remote_address = EG_STR("10.10.0.19:34868");
	/* SPEC §2.2's line, after the start time */
	EG_ASSERT_STR_EQ(render(f, &e),
	                 "[2024-08-13T00:31:47.690Z] \"- - -\" 0 UH - - \"-\" 0 0 0 - "
	                 "\"-\" \"-\" \"-\" \"-\" \"-\" BlackHoleCluster - "
	                 "185.199.109.133:443 10.10.0.19:34868 - -\n");
	eg_accesslog_format_free(f);
}

EG_TEST(text_tcp_passthrough_connection)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_TEXT, NULL);
	struct eg_accesslog_entry e;

	EG_ASSERT(f != NULL);
	eg_accesslog_entry_init(&e);
	e.start = spec_time();
	e.bytes_received = 517;
	e.bytes_sent = 4096;
	e.duration_ms = 230;
	e.upstream_host = EG_STR("93.184.216.34:443");
	e.upstream_cluster = EG_STR("PassthroughCluster");
	e.upstream_local_address = EG_STR("127.0.10.5:43210");
	e.downstream_local_address = EG_STR("93.184.216.34:443");
	e.downstream_remote_address = EG_STR("127.0.0.2:51000");
	e.requested_server_name = EG_STR("example.com");
	EG_ASSERT_STR_EQ(render(f, &e),
	                 "[2024-08-13T00:31:47.690Z] \"- - -\" 0 - - - \"-\" 517 4096 "
	                 "230 - \"-\" \"-\" \"-\" \"-\" \"93.184.216.34:443\" "
	                 "PassthroughCluster 127.0.10.5:43210 93.184.216.34:443 "
	                 "127.0.0.2:51000 example.com -\n");
	eg_accesslog_format_free(f);
}

EG_TEST(text_block_all_deny_502)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_TEXT, NULL);
	struct eg_accesslog_entry e;

	EG_ASSERT(f != NULL);
	eg_accesslog_entry_init(&e);
	e.start = spec_time();
	e.method = EG_STR("GET");
	e.path = EG_STR("/headers");
	e.protocol = EG_STR("HTTP/1.1");
	e.response_code = 502;
	e.response_code_details = EG_STR("direct_response");
	e.bytes_sent = 62;
	e.duration_ms = 0;
	e.user_agent = EG_STR("curl/7.88.1");
	e.request_id = EG_STR("5d1f0c1e-7b2a-4c55-9c1c-0e9b1a2b3c4d");
	e.authority = EG_STR("httpbin.org");
	e.downstream_local_address = EG_STR("127.0.0.2:15001");
	e.downstream_remote_address = EG_STR("127.0.0.2:40000");
	e.route_name = EG_STR("block_all");
	e.deny_reason = EG_STR("REGISTRY_ONLY: no ServiceEntry for httpbin.org");
	EG_ASSERT_STR_EQ(
	        render(f, &e),
	        "[2024-08-13T00:31:47.690Z] \"GET /headers HTTP/1.1\" 502 - direct_response "
	        "- \"-\" 0 62 0 - \"-\" \"curl/7.88.1\" "
	        "\"5d1f0c1e-7b2a-4c55-9c1c-0e9b1a2b3c4d\" \"httpbin.org\" \"-\" - - "
	        "127.0.0.2:15001 127.0.0.2:40000 - block_all\n");
	eg_accesslog_format_free(f);
}

EG_TEST(text_original_path_wins_and_flags_print)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_TEXT, NULL);
	struct eg_accesslog_entry e;

	EG_ASSERT(f != NULL);
	http_sidecar_entry(&e);
	e.original_path = EG_STR("/before-rewrite");
	e.response_code = 503;
	e.response_flags = EG_RF_UF | EG_RF_URX;
	e.upstream_transport_failure_reason = EG_STR("delayed_connect_error:_111");
	e.upstream_service_time_ms = -1;
	EG_ASSERT_CONTAINS(render(f, &e),
	                   "\"GET /before-rewrite HTTP/1.1\" 503 UF,URX via_upstream - "
	                   "\"delayed_connect_error:_111\" 0 135 12 - \"-\"");
	eg_accesslog_format_free(f);
}

EG_TEST(text_control_bytes_cannot_forge_lines)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_TEXT, "%REQ(USER-AGENT)%");
	struct eg_accesslog_entry e;

	EG_ASSERT(f != NULL);
	eg_accesslog_entry_init(&e);
	e.user_agent = (struct eg_str){"a\nb\x7f\x01", 5};
	EG_ASSERT_STR_EQ(render(f, &e), "a\\x0ab\\x7f\\x01\n");
	eg_accesslog_format_free(f);
}

/* A small strict JSON reader: checks the line is one object whose values have the expected
 * types, so a broken escape or a bare "-" would fail. */
struct jr {
	const char *s;
	size_t i;
};

static void jr_ws(struct jr *j)
{
	while (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r')
		j->i++;
}

/* returns 's', 'n' (number), 'z' (null) or 0 on a syntax error */
static char jr_value(struct jr *j, char *str, size_t cap)
{
	size_t n = 0;

	jr_ws(j);
	if (j->s[j->i] == '"') {
		j->i++;
		while (j->s[j->i] != '"') {
			unsigned char c = (unsigned char)j->s[j->i];

			if (c == 0 || c < 0x20)
				return 0;
			if (c == '\\') {
				c = (unsigned char)j->s[++j->i];
				if (c == 'u') {
					for (int k = 1; k <= 4; k++)
						if (!strchr("0123456789abcdefABCDEF",
						            j->s[j->i + k]) ||
						    !j->s[j->i + k])
							return 0;
					j->i += 4;
					c = '?';
				} else if (!strchr("\"\\/bfnrt", c) || !c) {
					return 0;
				}
			}
			if (n + 1 < cap)
				str[n++] = (char)c;
			j->i++;
		}
		j->i++;
		str[n] = '\0';
		return 's';
	}
	if (strncmp(j->s + j->i, "null", 4) == 0) {
		j->i += 4;
		return 'z';
	}
	if (j->s[j->i] == '-' || (j->s[j->i] >= '0' && j->s[j->i] <= '9')) {
		char *end;

		strtod(j->s + j->i, &end);
		j->i = (size_t)(end - j->s);
		return 'n';
	}
	return 0;
}

/* Parses @line; for each key found in @keys stores its type char in @types. Returns the
 * number of keys, or -1 on a syntax error. */
static int jr_object(const char *line, const char *const *keys, size_t nkeys, char *types)
{
	struct jr j = {line, 0};
	int count = 0;
	char key[128], val[512];

	memset(types, 0, nkeys);
	jr_ws(&j);
	if (line[j.i++] != '{')
		return -1;
	for (;;) {
		char t;

		if (jr_value(&j, key, sizeof(key)) != 's')
			return -1;
		jr_ws(&j);
		if (line[j.i++] != ':')
			return -1;
		t = jr_value(&j, val, sizeof(val));
		if (!t)
			return -1;
		for (size_t k = 0; k < nkeys; k++)
			if (strcmp(keys[k], key) == 0)
				types[k] = t;
		count++;
		jr_ws(&j);
		if (line[j.i] == ',') {
			j.i++;
			continue;
		}
		if (line[j.i++] != '}')
			return -1;
		break;
	}
	if (line[j.i++] != '\n' || line[j.i] != '\0')
		return -1;
	return count;
}

static const char *const json_keys[] = {
        "start_time",
        "route_name",
        "method",
        "path",
        "protocol",
        "response_code",
        "response_flags",
        "response_code_details",
        "connection_termination_details",
        "bytes_received",
        "bytes_sent",
        "duration",
        "upstream_service_time",
        "x_forwarded_for",
        "user_agent",
        "request_id",
        "authority",
        "upstream_host",
        "upstream_cluster",
        "upstream_local_address",
        "downstream_local_address",
        "downstream_remote_address",
        "requested_server_name",
        "upstream_transport_failure_reason",
};

EG_TEST(json_default_http_line_exact)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_JSON, NULL);
	struct eg_accesslog_entry e;

	EG_ASSERT(f != NULL);
	EG_ASSERT_EQ(eg_accesslog_format_encoding(f), EG_ACCESSLOG_JSON);
	http_sidecar_entry(&e);
	EG_ASSERT_STR_EQ(
	        render(f, &e),
	        "{\"authority\":\"httpbin:8000\",\"bytes_received\":0,\"bytes_sent\":135,"
	        "\"connection_termination_details\":null,"
	        "\"downstream_local_address\":\"10.0.112.220:8000\","
	        "\"downstream_remote_address\":\"10.244.0.12:42360\",\"duration\":12,"
	        "\"method\":\"GET\",\"path\":\"/status/418\",\"protocol\":\"HTTP/1.1\","
	        "\"request_id\":\"cdecaca5-...\",\"requested_server_name\":null,"
	        "\"response_code\":418,\"response_code_details\":\"via_upstream\","
	        "\"response_flags\":\"-\",\"route_name\":\"default\","
	        "\"start_time\":\"2024-08-13T00:31:47.690Z\","
	        "\"upstream_cluster\":\"outbound|8000||httpbin.default.svc.cluster.local\","
	        "\"upstream_host\":\"10.244.0.13:8080\","
	        "\"upstream_local_address\":\"10.244.0.12:53336\",\"upstream_service_time\":\"11\","
	        "\"upstream_transport_failure_reason\":null,\"user_agent\":\"curl/8.9.1\","
	        "\"x_forwarded_for\":null}\n");
	eg_accesslog_format_free(f);
}

EG_TEST(json_default_has_every_spec_key_typed)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_JSON, NULL);
	struct eg_accesslog_entry e;
	char types[EG_ARRAY_SIZE(json_keys)];
	char *line;

	EG_ASSERT(f != NULL);
	/* a TCP connection: method/path/protocol null, response_code 0 */
	eg_accesslog_entry_init(&e);
	e.start = spec_time();
	e.response_flags = EG_RF_UH;
	e.duration_ms = 0;
	e.upstream_cluster = EG_STR("BlackHoleCluster");
	line = render(f, &e);
	EG_ASSERT(line != NULL);
	EG_ASSERT_EQ(jr_object(line, json_keys, EG_ARRAY_SIZE(json_keys), types),
	             (int)EG_ARRAY_SIZE(json_keys));
	for (size_t k = 0; k < EG_ARRAY_SIZE(json_keys); k++)
		if (!types[k])
			EG_FAIL("key %s missing in %s", json_keys[k], line);
	EG_ASSERT_EQ(types[2], 'z');  /* method */
	EG_ASSERT_EQ(types[4], 'z');  /* protocol */
	EG_ASSERT_EQ(types[5], 'n');  /* response_code */
	EG_ASSERT_EQ(types[6], 's');  /* response_flags */
	EG_ASSERT_EQ(types[9], 'n');  /* bytes_received */
	EG_ASSERT_EQ(types[11], 'n'); /* duration */
	EG_ASSERT_EQ(types[12], 'z'); /* upstream_service_time */
	EG_ASSERT_CONTAINS(line, "\"response_code\":0,");
	EG_ASSERT_CONTAINS(line, "\"response_flags\":\"UH\"");
	eg_accesslog_format_free(f);
}

EG_TEST(json_escapes_and_invalid_utf8_still_parse)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_JSON, NULL);
	struct eg_accesslog_entry e;
	char types[EG_ARRAY_SIZE(json_keys)];
	char *line;

	EG_ASSERT(f != NULL);
	http_sidecar_entry(&e);
	e.user_agent = (struct eg_str){"q\"b\\s\n\x01\xff\xc3\xa9\xe2\x82", 12};
	line = render(f, &e);
	EG_ASSERT(line != NULL);
	EG_ASSERT_CONTAINS(line,
	                   "\"user_agent\":\"q\\\"b\\\\s\\n\\u0001\\ufffd\xc3\xa9\\ufffd\\ufffd\"");
	EG_ASSERT_EQ(jr_object(line, json_keys, EG_ARRAY_SIZE(json_keys), types),
	             (int)EG_ARRAY_SIZE(json_keys));
	eg_accesslog_format_free(f);
}

static bool test_lookup(const void *ctx, enum eg_accesslog_which which, struct eg_str name,
                        struct eg_str *ret)
{
	(void)ctx;
	if (which == EG_ACCESSLOG_REQ && eg_str_caseeq(name, EG_STR("x-custom"))) {
		*ret = EG_STR("from-callback");
		return true;
	}
	return false;
}

EG_TEST(user_text_format_commands)
{
	static const struct eg_accesslog_header req[] = {
	        {EG_STR("X-Tenant"), EG_STR("blue")},
	        {EG_STR(":scheme"), EG_STR("https")},
	};
	static const struct eg_accesslog_header resp[] = {
	        {EG_STR("Content-Type"), EG_STR("text/html")},
	};
	struct eg_accesslog_format *f = compile(
	        EG_ACCESSLOG_TEXT,
	        "%START_TIME(%Y/%m/%d %H:%M:%S.%3f|%6f|%f|%s|%%)% 100%% %REQ(USER-AGENT):4% "
	        "%REQ(x-tenant)% %REQ(:SCHEME)% %REQ(X-MISSING?X-TENANT)% %REQ(X-NONE)% "
	        "%RESP(CONTENT-TYPE)% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% %RESPONSE_FLAGS_LONG% "
	        "%UPSTREAM_HOST% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% "
	        "%UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DENY_REASON% %DOWNSTREAM_PEER_URI_SAN%");
	struct eg_accesslog_entry e;

	EG_ASSERT(f != NULL);
	http_sidecar_entry(&e);
	e.req_headers = req;
	e.n_req_headers = EG_ARRAY_SIZE(req);
	e.resp_headers = resp;
	e.n_resp_headers = EG_ARRAY_SIZE(resp);
	e.response_flags = EG_RF_UT;
	e.upstream_host = EG_STR("[2001:db8::1]:443");
	e.deny_reason = EG_STR("rule=deny-all");
	e.downstream_peer_uri_san = EG_STR("spiffe://cluster.local/ns/default/sa/sleep");
	EG_ASSERT_STR_EQ(render(f, &e),
	                 "2024/08/13 00:31:47.690|690123|690123456|1723509107|% 100% curl blue "
	                 "https blue - text/html 11 UpstreamRequestTimeout [2001:db8::1]:443 "
	                 "10.244.0.12 2001:db8::1 rule=deny-all "
	                 "spiffe://cluster.local/ns/default/sa/sleep\n");
	eg_accesslog_format_free(f);
}

EG_TEST(user_format_header_callback_and_newline_kept)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_TEXT, "%REQ(X-Custom)% %HOSTNAME%\n");
	struct eg_accesslog_entry e;
	char host[256] = "";
	char want[300];

	EG_ASSERT(f != NULL);
	eg_accesslog_entry_init(&e);
	e.lookup = test_lookup;
	gethostname(host, sizeof(host) - 1);
	snprintf(want, sizeof(want), "from-callback %s\n", host[0] ? host : "-");
	EG_ASSERT_STR_EQ(render(f, &e), want);
	eg_accesslog_format_free(f);
}

EG_TEST(user_format_errors_are_clear)
{
	static const struct {
		const char *spec;
		const char *msg;
	} bad[] = {
	        {"[%FOO%]", "column 2: unknown command %FOO%"},
	        {"%REQ%", "%REQ(...)% needs a header name"},
	        {"%PROTOCOL(x)%", "%PROTOCOL% takes no argument"},
	        {"%REQ(USER-AGENT", "misses ')'"},
	        {"%REQ(USER-AGENT)", "misses its closing '%'"},
	        {"50 % done", "column 4: '%' must start a command"},
	        {"%REQ(A?B?C)%", "more than one '?'"},
	        {"%REQ(A B)%", "invalid header name"},
	        {"%REQ(?B)%", "empty header name"},
	        {"%BYTES_SENT:0%", "the length after ':' must be"},
	        {"%BYTES_SENT:x%", "the length after ':' must be"},
	        {"%start_time%", "'%' must start a command"},
	        {"%DYNAMIC_METADATA(istio.mixer:status)%", "unknown command %DYNAMIC_METADATA%"},
	};

	for (size_t i = 0; i < EG_ARRAY_SIZE(bad); i++) {
		struct eg_accesslog_format *f = NULL;
		char err[256] = "";

		EG_ASSERT_EQ(eg_accesslog_format_new(EG_ACCESSLOG_TEXT, bad[i].spec, &f, err,
		                                     sizeof(err)),
		             -EINVAL);
		EG_ASSERT(f == NULL);
		EG_ASSERT_CONTAINS(err, bad[i].msg);
	}
}

EG_TEST(user_json_format_typed_values)
{
	struct eg_accesslog_format *f =
	        compile(EG_ACCESSLOG_JSON,
	                " { \"proto\" : \"%PROTOCOL%\", \"code\":\"%RESPONSE_CODE%\",\n"
	                "\"dur\":\"%DURATION%\", \"mixed\":\"code=%RESPONSE_CODE% x=%REQ(X)%\","
	                "\"esc\\u00e9\\ud83d\\ude00\":\"a\\\"b\", \"ua5\":\"%REQ(USER-AGENT):5%\","
	                "\"bytes3\":\"%BYTES_SENT:2%\"} ");
	struct eg_accesslog_entry e;

	EG_ASSERT(f != NULL);
	http_sidecar_entry(&e);
	e.duration_ms = -1;
	EG_ASSERT_STR_EQ(render(f, &e),
	                 "{\"proto\":\"HTTP/1.1\",\"code\":418,\"dur\":null,"
	                 "\"mixed\":\"code=418 x=-\",\"esc\xc3\xa9\xf0\x9f\x98\x80\":"
	                 "\"a\\\"b\",\"ua5\":\"curl/\",\"bytes3\":\"13\"}\n");
	eg_accesslog_format_free(f);
}

EG_TEST(user_json_format_errors)
{
	static const struct {
		const char *spec;
		const char *msg;
	} bad[] = {
	        {"[1]", "must be a JSON object"},
	        {"{}", "has no key"},
	        {"{\"a\":{\"b\":\"%PROTOCOL%\"}}", "nested objects"},
	        {"{\"a\":1}", "must be a format string"},
	        {"{\"a\":\"x\",\"a\":\"y\"}", "duplicate key \"a\""},
	        {"{\"a\":\"x\"} x", "text after the JSON object"},
	        {"{\"a\":\"x\" \"b\":\"y\"}", "expected ',' or '}'"},
	        {"{\"a\":\"%NOPE%\"}", "key \"a\": column 1: unknown command %NOPE%"},
	        {"{\"a\":\"\\ud800\"}", "lone high surrogate"},
	        {"{\"a\":\"\\u0000\"}", "\\u0000 is not allowed"},
	        {"{\"a\":\"x", "unterminated JSON string"},
	        {"{\"a\":\"\\q\"}", "bad escape"},
	};

	for (size_t i = 0; i < EG_ARRAY_SIZE(bad); i++) {
		struct eg_accesslog_format *f = NULL;
		char err[256] = "";

		EG_ASSERT_EQ(eg_accesslog_format_new(EG_ACCESSLOG_JSON, bad[i].spec, &f, err,
		                                     sizeof(err)),
		             -EINVAL);
		EG_ASSERT_CONTAINS(err, bad[i].msg);
	}
}

EG_TEST(format_too_long_and_missing_start_time)
{
	static char big[SPEC_MAX + 2];
	struct eg_accesslog_format *f = NULL;
	struct eg_accesslog_entry e;
	char err[128];

	memset(big, 'a', sizeof(big) - 1);
	EG_ASSERT_EQ(eg_accesslog_format_new(EG_ACCESSLOG_TEXT, big, &f, err, sizeof(err)), -E2BIG);
	f = compile(EG_ACCESSLOG_TEXT, "[%START_TIME%] %START_TIME(%s)%");
	EG_ASSERT(f != NULL);
	eg_accesslog_entry_init(&e);
	EG_ASSERT_STR_EQ(render(f, &e), "[-] -\n");
	eg_accesslog_format_free(f);
}

EG_TEST(format_failure_leaves_buffer_unchanged)
{
	struct eg_accesslog_format *f = compile(EG_ACCESSLOG_TEXT, NULL);
	struct eg_buf b = EG_BUF_INIT(64);
	struct eg_accesslog_entry e;

	EG_ASSERT(f != NULL);
	http_sidecar_entry(&e);
	EG_ASSERT_EQ(eg_buf_puts(&b, "keep"), 0);
	EG_ASSERT_EQ(eg_accesslog_format(f, &e, &b), -E2BIG);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "keep");
	eg_buf_done(&b);
	eg_accesslog_format_free(f);
}
