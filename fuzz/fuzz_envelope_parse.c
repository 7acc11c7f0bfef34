/* fuzz_envelope_parse.c — libFuzzer target for the wire parser: envelope_parse() on arbitrary
 * bytes must either reject them with ECOM_INVALID and a message, or accept an envelope that
 * serializes, re-parses and re-serializes to the same bytes (the wire format is byte-stable),
 * with no crash, leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ecom.h"
#include "event/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_roundtrip(const struct envelope *e)
{
	struct envelope again, copy;
	struct ecom_err err = { 0 };
	char *text, *text2, *text3;

	text = envelope_serialize(e);
	ECOM_ASSERT(text);
	/* What we write we must read back, unchanged. */
	ECOM_ASSERT(envelope_parse(text, strlen(text), &again, &err) == ECOM_OK);
	text2 = envelope_serialize(&again);
	ECOM_ASSERT(strcmp(text, text2) == 0);
	envelope_copy(&copy, &again);
	text3 = envelope_serialize(&copy);
	ECOM_ASSERT(strcmp(text, text3) == 0);
	free(text3);
	free(text2);
	free(text);
	envelope_deinit(&copy);
	envelope_deinit(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope e;
	struct ecom_err err = { 0 };
	int rc;

	rc = envelope_parse((const char *)data, size, &e, &err);
	if (rc != ECOM_OK) {
		ECOM_ASSERT(rc == ECOM_INVALID);
		ECOM_ASSERT(err.msg[0] != '\0');
		return 0;
	}
	ECOM_ASSERT(e.event_id && e.event_id[0] && e.key && e.key[0] && e.correlation_id);
	ECOM_ASSERT(json_is_object(e.payload) && json_is_object(e.headers));
	ECOM_ASSERT(event_validate_payload(e.type, e.payload, NULL) == ECOM_OK);
	fuzz_roundtrip(&e);
	envelope_deinit(&e);
	return 0;
}
