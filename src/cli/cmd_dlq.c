/* cmd_dlq.c — `ecom dlq list|replay`: the operator's client for the read model's admin DLQ
 * API (GET /admin/dlq, POST /admin/dlq/replay). It never talks to a broker: the server
 * decides what a replay republishes and records it, so replaying twice is safe (an entry
 * already replayed is reported as skipped). The admin token comes from --token, $ECOM_TOKEN,
 * or is minted for five minutes from $JWT_SECRET the way `ecom token` does. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event/jsonx.h"
#include "src/cli/cli.h"
#include "src/cli/cli_http.h"

#ifdef ECOM_HAVE_BACKENDS
#include "backends/http/jwt_auth.h"
#endif

#define DLQ_URL_DEFAULT "http://localhost:4005"
#define DLQ_TIMEOUT_MS_DEFAULT 10000
#define DLQ_MINTED_TTL_S 300
#define DLQ_QUERY_MAX 1024
#define DLQ_COL_MAX 48     /* table cells are cut to this many bytes (error: DLQ_ERR_COL) */
#define DLQ_ERR_COL 60
#define DLQ_AUTH_MAX 9000

struct dlq_opts {
	const char *verb;
	const char *url, *token, *topic, *order, *id;
	int all, json;
	int timeout_ms;
};

static void dlq_usage(FILE *out)
{
	fprintf(out,
		"usage: ecom dlq list   [--url U] [--token T] [--topic T] [--order ID] [--id ID]\n"
		"                       [--json]\n"
		"       ecom dlq replay [--url U] [--token T] (--id ID | --all | --topic T\n"
		"                       [--order ID] | --order ID) [--json]\n\n"
		"Lists or replays the dead letters the read model recorded (GET /admin/dlq,\n"
		"POST /admin/dlq/replay). A replay republishes the original message to its topic\n"
		"once; entries already replayed are reported as skipped.\n\n"
		"  --url U        read model (default %s) [READ_MODEL_URL]\n"
		"  --token T      admin JWT [ECOM_TOKEN]; without one, a 5-minute token is minted\n"
		"                 from $JWT_SECRET like `ecom token` does\n"
		"  --topic T      original topic (T or T.dlq)\n"
		"  --order ID     orderId of the dead-lettered message\n"
		"  --id ID        one dead letter (<topic>:<partition>:<offset>)\n"
		"  --all          replay every dead letter not replayed yet\n"
		"  --json         print the server's JSON instead of a table\n"
		"  --timeout-ms T per request (default %d)\n\n"
		"Exit status: 0 done, 1 the server refused or failed (or a replay failed), 2 bad\n"
		"usage.\n",
		DLQ_URL_DEFAULT, DLQ_TIMEOUT_MS_DEFAULT);
}

static int dlq_bad(const char *msg, const char *arg)
{
	fprintf(stderr, "ecom dlq: %s%s\n\n", msg, arg ? arg : "");
	dlq_usage(stderr);
	return 2;
}

/* Returns 0 or the exit code for bad usage. */
static int dlq_parse(int argc, char **argv, struct dlq_opts *o)
{
	const char *env = getenv("READ_MODEL_URL");

	o->url = env && *env ? env : DLQ_URL_DEFAULT;
	o->token = getenv("ECOM_TOKEN");
	o->timeout_ms = DLQ_TIMEOUT_MS_DEFAULT;
	if (argc < 2)
		return dlq_bad("list or replay?", NULL);
	o->verb = argv[1];
	if (strcmp(o->verb, "list") != 0 && strcmp(o->verb, "replay") != 0)
		return dlq_bad("unknown subcommand: ", o->verb);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--all") == 0) {
			o->all = 1;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (strncmp(a, "--", 2) != 0)
			return dlq_bad("unexpected argument: ", a);
		if (!v)
			return dlq_bad("a value is needed after ", a);
		i++;
		if (strcmp(a, "--url") == 0) {
			o->url = v;
		} else if (strcmp(a, "--token") == 0) {
			o->token = v;
		} else if (strcmp(a, "--topic") == 0) {
			o->topic = v;
		} else if (strcmp(a, "--order") == 0) {
			o->order = v;
		} else if (strcmp(a, "--id") == 0) {
			o->id = v;
		} else if (strcmp(a, "--timeout-ms") == 0) {
			char *end;
			long t = strtol(v, &end, 10);

			if (*end || t < 1 || t > 600000)
				return dlq_bad("--timeout-ms: want 1..600000, got ", v);
			o->timeout_ms = (int)t;
		} else {
			return dlq_bad("unknown option: ", a);
		}
	}
	if (strcmp(o->verb, "list") == 0 && o->all)
		return dlq_bad("--all is for replay (list shows everything by default)", NULL);
	if (strcmp(o->verb, "replay") == 0) {
		int n = !!o->id + !!o->all + !!(o->topic || o->order);

		if (n != 1)
			return dlq_bad("replay needs exactly one of --id, --all, or --topic and/or "
				       "--order",
				       NULL);
	}
	return 0;
}

/* ---- token ------------------------------------------------------------------------------ */

/* "Bearer <token>" into buf, or "" when there is none (the server will answer 401). */
static void dlq_authorization(const struct dlq_opts *o, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (o->token && *o->token) {
		snprintf(buf, cap, "Bearer %s", o->token);
		return;
	}
#ifdef ECOM_HAVE_BACKENDS
	{
		const char *secret = getenv("JWT_SECRET");
		char *tok;

		if (!secret || !*secret)
			return;
		tok = jwt_auth_mint(secret, JWT_ROLE_ADMIN, "ecom-dlq", (int64_t)time(NULL),
				    DLQ_MINTED_TTL_S, NULL);
		if (tok)
			snprintf(buf, cap, "Bearer %s", tok);
		free(tok);
	}
#endif
}

/* ---- HTTP ------------------------------------------------------------------------------- */

static void query_add(char *q, size_t cap, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(q);

	n += (size_t)snprintf(q + n, cap - n, "%s%s=", n ? "&" : "?", key);
	for (const unsigned char *p = (const unsigned char *)value; *p && n + 4 < cap; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~:", *p)) {
			q[n++] = (char)*p;
		} else {
			q[n++] = '%';
			q[n++] = hex[*p >> 4];
			q[n++] = hex[*p & 15];
		}
	}
	q[n] = '\0';
}

/* One request; the parsed JSON answer of a 200 in *out. Prints the failure and returns 1
 * on anything else. */
static int dlq_call(const struct dlq_opts *o, const struct cli_url *url, const char *method,
		    const char *path, const char *body, json_t **out)
{
	char authz[DLQ_AUTH_MAX];
	struct cli_conn conn;
	struct cli_response r;
	struct ecom_err err = {0};
	json_t *j = NULL, *msg;
	int rc;

	*out = NULL;
	dlq_authorization(o, authz, sizeof(authz));
	cli_conn_init(&conn, url);
	rc = cli_http_request(&conn, method, path, authz[0] ? authz : NULL, body,
			      body ? strlen(body) : 0, o->timeout_ms, &r, &err);
	cli_conn_close(&conn);
	if (rc != ECOM_OK) {
		fprintf(stderr, "ecom dlq: %s: %s\n", o->url, err.msg);
		return 1;
	}
	j = json_loadb(r.body, r.body_len, 0, NULL);
	if (r.status != 200) {
		msg = json_object_get(j, "error");
		fprintf(stderr, "ecom dlq: %s %s -> HTTP %d: %s\n", method, path, r.status,
			json_is_string(msg) ? json_string_value(msg) : r.body);
		if (r.status == 401 && !authz[0])
			fprintf(stderr, "ecom dlq: no token: pass --token, set ECOM_TOKEN, or set "
					"JWT_SECRET to mint one\n");
		rc = 1;
		goto out;
	}
	if (!j) {
		fprintf(stderr, "ecom dlq: %s %s: the answer is not JSON\n", method, path);
		rc = 1;
		goto out;
	}
	*out = j;
	j = NULL;
	rc = 0;
out:
	json_decref(j);
	cli_response_free(&r);
	return rc;
}

/* ---- list ------------------------------------------------------------------------------- */

static const char *cell(const json_t *e, const char *key, char *buf, size_t cap)
{
	json_t *v = json_object_get(e, key);

	if (json_is_string(v))
		snprintf(buf, cap, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, cap, "-");
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	return buf;
}

static const char *const dlq_cols[] = {"dlqId", "topic", "originalType", "orderId", "error",
				       "replayed"};
static const char *const dlq_heads[] = {"ID", "TOPIC", "ORIGINAL TYPE", "ORDER", "ERROR",
					"REPLAYED"};
#define DLQ_NCOLS 6

static void print_table(const json_t *rows)
{
	int width[DLQ_NCOLS];
	char buf[DLQ_COL_MAX + 32];
	const json_t *e;
	size_t i;

	for (int c = 0; c < DLQ_NCOLS; c++)
		width[c] = (int)strlen(dlq_heads[c]);
	json_array_foreach(rows, i, e) {
		for (int c = 0; c < DLQ_NCOLS; c++) {
			int max = c == 4 ? DLQ_ERR_COL : DLQ_COL_MAX;
			int n = (int)strlen(cell(e, dlq_cols[c], buf, sizeof(buf)));

			n = n > max ? max : n;
			if (n > width[c])
				width[c] = n;
		}
	}
	for (int c = 0; c < DLQ_NCOLS; c++)
		printf("%-*s%s", width[c], dlq_heads[c], c + 1 < DLQ_NCOLS ? "  " : "\n");
	json_array_foreach(rows, i, e) {
		for (int c = 0; c < DLQ_NCOLS; c++) {
			int max = c == 4 ? DLQ_ERR_COL : DLQ_COL_MAX;
			const char *s = cell(e, dlq_cols[c], buf, sizeof(buf));

			if ((int)strlen(s) > max)
				snprintf(buf + max - 3, 4, "...");
			printf("%-*s%s", width[c], s, c + 1 < DLQ_NCOLS ? "  " : "\n");
		}
	}
}

/* GET /admin/dlq with the filters; --id filters here. New reference in *out. */
static int dlq_fetch(const struct dlq_opts *o, const struct cli_url *url, json_t **out)
{
	char q[DLQ_QUERY_MAX] = "", path[DLQ_QUERY_MAX + 16];
	json_t *all, *kept, *e;
	size_t i;

	if (o->topic)
		query_add(q, sizeof(q), "topic", o->topic);
	if (o->order)
		query_add(q, sizeof(q), "orderId", o->order);
	snprintf(path, sizeof(path), "/admin/dlq%s", q);
	if (dlq_call(o, url, "GET", path, NULL, &all) != 0)
		return 1;
	if (!json_is_array(all)) {
		fprintf(stderr, "ecom dlq: GET /admin/dlq: expected a JSON array\n");
		json_decref(all);
		return 1;
	}
	kept = json_array();
	json_array_foreach(all, i, e) {
		const char *id = json_string_value(json_object_get(e, "dlqId"));

		if (!o->id || (id && strcmp(id, o->id) == 0))
			json_array_append(kept, e);
	}
	json_decref(all);
	*out = kept;
	return 0;
}

static int dlq_list(const struct dlq_opts *o, const struct cli_url *url)
{
	json_t *rows;
	size_t pending = 0, i;
	json_t *e;

	if (dlq_fetch(o, url, &rows) != 0)
		return 1;
	if (o->json) {
		char *s = jsonx_dumps_flags(rows, JSON_INDENT(2));

		printf("%s\n", s ? s : "[]");
		free(s);
	} else if (json_array_size(rows) == 0) {
		printf("no dead letters%s\n", o->topic || o->order || o->id ? " match" : "");
	} else {
		print_table(rows);
		json_array_foreach(rows, i, e)
			pending += json_integer_value(json_object_get(e, "replayed")) == 0;
		printf("%zu dead letter%s, %zu not replayed\n", json_array_size(rows),
		       json_array_size(rows) == 1 ? "" : "s", pending);
	}
	json_decref(rows);
	return 0;
}

/* ---- replay ----------------------------------------------------------------------------- */

struct replay_tally {
	json_t *ids, *skipped;
	long long failed;
};

static void tally_add(struct replay_tally *t, const json_t *answer)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(answer, "ids"), i, v)
		json_array_append(t->ids, v);
	json_array_foreach(json_object_get(answer, "alreadyReplayed"), i, v)
		json_array_append(t->skipped, v);
	t->failed += json_integer_value(json_object_get(answer, "failed"));
}

static int replay_body(const struct dlq_opts *o, const struct cli_url *url, json_t *body,
		       struct replay_tally *t)
{
	char *text = jsonx_dumps_flags(body, JSON_COMPACT);
	json_t *answer;
	int rc;

	json_decref(body);
	rc = dlq_call(o, url, "POST", "/admin/dlq/replay", text, &answer);
	free(text);
	if (rc == 0) {
		tally_add(t, answer);
		json_decref(answer);
	}
	return rc;
}

/* --order without --topic: the server selects by topic only, so replay each match by id. */
static int replay_by_order(const struct dlq_opts *o, const struct cli_url *url,
			   struct replay_tally *t)
{
	json_t *rows, *e;
	size_t i;
	int rc = 0;

	if (dlq_fetch(o, url, &rows) != 0)
		return 1;
	json_array_foreach(rows, i, e) {
		const char *id = json_string_value(json_object_get(e, "dlqId"));

		if (id && replay_body(o, url, json_pack("{s:s}", "id", id), t) != 0)
			rc = 1;
	}
	json_decref(rows);
	return rc;
}

static void print_ids(const char *label, const json_t *ids)
{
	size_t i;
	json_t *v;

	printf("%s %zu", label, json_array_size(ids));
	json_array_foreach(ids, i, v)
		printf("%s%s", i ? ", " : ": ", json_string_value(v) ? json_string_value(v) : "?");
	printf("\n");
}

static int dlq_replay(const struct dlq_opts *o, const struct cli_url *url)
{
	struct replay_tally t = {.ids = json_array(), .skipped = json_array()};
	int rc;

	if (o->id)
		rc = replay_body(o, url, json_pack("{s:s}", "id", o->id), &t);
	else if (o->all)
		rc = replay_body(o, url, json_pack("{s:b}", "all", 1), &t);
	else if (o->topic && o->order)
		rc = replay_body(o, url, json_pack("{s:s,s:s}", "topic", o->topic, "orderId",
						   o->order), &t);
	else if (o->topic)
		rc = replay_body(o, url, json_pack("{s:s}", "topic", o->topic), &t);
	else
		rc = replay_by_order(o, url, &t);
	if (o->json) {
		json_t *j = json_pack("{s:O,s:O,s:I,s:I,s:I}", "ids", t.ids, "alreadyReplayed",
				      t.skipped, "replayed", (json_int_t)json_array_size(t.ids),
				      "skipped", (json_int_t)json_array_size(t.skipped), "failed",
				      (json_int_t)t.failed);
		char *s = jsonx_dumps_flags(j, JSON_COMPACT);

		printf("%s\n", s ? s : "{}");
		free(s);
		json_decref(j);
	} else {
		print_ids("replayed", t.ids);
		if (json_array_size(t.skipped))
			print_ids("already replayed (skipped)", t.skipped);
		if (t.failed)
			printf("failed %lld (the broker did not take them; try again)\n", t.failed);
	}
	if (t.failed)
		rc = 1;
	json_decref(t.ids);
	json_decref(t.skipped);
	return rc;
}

int cmd_dlq(int argc, char **argv)
{
	struct dlq_opts o = {0};
	struct cli_url url;
	struct ecom_err err = {0};
	int rc;

	if (cli_wants_help(argc, argv)) {
		dlq_usage(stdout);
		return 0;
	}
	rc = dlq_parse(argc, argv, &o);
	if (rc != 0)
		return rc;
	if (cli_url_parse(o.url, &url, &err) != ECOM_OK)
		return dlq_bad("--url: ", err.msg);
	if (strcmp(o.verb, "list") == 0)
		return dlq_list(&o, &url);
	return dlq_replay(&o, &url);
}
