/* broker_util.c — helpers every broker shares: Kafka's default partitioner and header lookup.
 * broker_murmur2 is bit-for-bit org.apache.kafka.common.utils.Utils.murmur2 (also kafkajs's),
 * so a key lands on the same partition here as in the Node demo. */
#include "core/broker.h"

#include <string.h>

#define MURMUR2_SEED 0x9747b28cu
#define MURMUR2_M 0x5bd1e995u
#define MURMUR2_R 24

uint32_t broker_murmur2(const void *key, size_t len)
{
	const unsigned char *data = key;
	/* Java's int length: keys longer than INT32_MAX do not exist on the wire. */
	uint32_t h = MURMUR2_SEED ^ (uint32_t)len;
	size_t len4 = len / 4, tail;

	ECOM_ASSERT(data || len == 0);
	for (size_t i = 0; i < len4; i++) {
		const unsigned char *p = data + i * 4;
		uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			     (uint32_t)p[3] << 24;

		k *= MURMUR2_M;
		k ^= k >> MURMUR2_R;
		k *= MURMUR2_M;
		h *= MURMUR2_M;
		h ^= k;
	}
	/* The Java switch falls through from case 3 to case 1; spelled out here. */
	tail = len & ~(size_t)3;
	switch (len % 4) {
	case 3:
		h ^= (uint32_t)data[tail + 2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)data[tail + 1] << 8;
		/* fall through */
	case 1:
		h ^= (uint32_t)data[tail];
		h *= MURMUR2_M;
		break;
	default:
		break;
	}
	h ^= h >> 13;
	h *= MURMUR2_M;
	h ^= h >> 15;
	return h;
}

int32_t broker_partition_for_key(const void *key, size_t len, int32_t n_partitions)
{
	ECOM_ASSERT(n_partitions > 0);
	/* Keyless records all go to partition 0: deterministic, unlike Kafka's sticky choice. */
	if (!key || len == 0)
		return 0;
	return (int32_t)((broker_murmur2(key, len) & 0x7fffffffu) % (uint32_t)n_partitions);
}

const char *broker_msg_header(const struct broker_msg *m, const char *key)
{
	const char *found = NULL;

	ECOM_ASSERT(m && key);
	ECOM_ASSERT(m->n_headers == 0 || m->headers);
	/* The last occurrence wins, as Kafka's Headers.lastHeader(). */
	for (size_t i = 0; i < m->n_headers && i < BROKER_MAX_HEADERS; i++) {
		if (m->headers[i].key && strcmp(m->headers[i].key, key) == 0)
			found = m->headers[i].value;
	}
	return found;
}
