/* tests/fuzz/fuzz_yaml.c: YAML bytes -> eg_model_parse; every resource that parses is written
 * back as YAML, which must parse again (no error) into an equal tree, and as JSON,
 * which must load as YAML. Anything else aborts, so libFuzzer and the replay report it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs beyond this are covered by the size limit test; the writer may triple a document
 * (escapes), and the round trip must stay under the model's 8 MiB input limit. */
#define FUZZ_MAX_INPUT (256u << 10)

static void die(const char *what, const struct eg_buf *text, const struct eg_diag *d)
{
	fprintf(stderr, "fuzz_yaml: %s\n--- text:\n%s\n--- diagnostics:\n%s\n", what,
		text ? eg_buf_cstr(text) : "", d ? eg_diag_text(d) : "");
	abort();
}

static void round_trip(const struct eg_resource *r)
{
	struct eg_parse_opts po = { .default_ns = "default" };
	struct eg_buf y = EG_BUF_INIT(32u << 20), j = EG_BUF_INIT(32u << 20);
	struct eg_resource_set again;
	struct eg_diag d;
	struct eg_node **docs = NULL;
	size_t n = 0;
	int rc;

	eg_resource_set_init(&again);
	eg_diag_init(&d);
	if (eg_node_emit_yaml(&y, r->root) < 0)
		die("the YAML writer failed", NULL, NULL);
	rc = eg_model_parse("again.yaml", y.data, y.len, &po, &again, &d);
	if (rc != 0 || again.n != 1)
		die("written YAML does not parse again", &y, &d);
	if (again.v[0]->kind != r->kind || !eg_node_equal(r->root, again.v[0]->root) ||
	    !eg_node_equal(again.v[0]->root, r->root))
		die("written YAML reads back as a different object", &y, &d);
	if (eg_node_emit_json(&j, r->root, 0) < 0)
		die("the JSON writer failed", NULL, NULL);
	eg_diag_done(&d);
	eg_diag_init(&d);
	if (eg_yaml_load("again.json", j.data, j.len, &d, &docs, &n) != 0 || n != 1)
		die("written JSON does not load", &j, &d);
	if (docs[0]->kind != EG_NODE_MAP || docs[0]->n != r->root->n)
		die("written JSON has another shape", &j, &d);
	eg_node_free(docs[0]);
	free(docs);
	eg_diag_done(&d);
	eg_resource_set_done(&again);
	eg_buf_done(&y);
	eg_buf_done(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eg_parse_opts po = { .default_ns = "default" };
	struct eg_resource_set set;
	struct eg_diag d;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	if (eg_model_parse("fuzz.yaml", (const char *)data, size, &po, &set, &d) == 0) {
		if (d.errors)
			die("parse succeeded with errors reported", NULL, &d);
		for (size_t i = 0; i < set.n; i++) {
			struct eg_node *mesh = NULL;

			round_trip(set.v[i]);
			/* the compiler's entry to MeshConfig must agree with validation */
			if (eg_meshconfig_parse(set.v[i], &mesh, &d) == -EINVAL)
				die("a validated MeshConfig ConfigMap fails eg_meshconfig_parse", NULL, &d);
			eg_node_free(mesh);
		}
	} else if (!d.errors) {
		die("parse failed without a diagnostic", NULL, &d);
	}
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	return 0;
}
