/* read_model_internal.h — the read model object and what its files share. Private to
 * services/read-model. */
#ifndef ECOM_SERVICES_READ_MODEL_INTERNAL_H
#define ECOM_SERVICES_READ_MODEL_INTERNAL_H

#include "read_model.h"

#define READ_MODEL_INBOX_MAX 64

struct read_model {
	struct read_model_config cfg;
	struct runtime *rt;
	read_model_listener_fn listener;
	void *listener_arg;
};

#endif
