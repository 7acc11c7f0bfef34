/* store_contract.h — the store.h contract as one cmocka group, runnable against any backend:
 * sim/mem_store always, backends/mongo (FerretDB) in the integration job. It relies only on
 * what store.h promises and uses a fresh, emptied collection per test, so it is safe against
 * a database that persists between runs. */
#ifndef ECOM_TESTS_STORE_CONTRACT_H
#define ECOM_TESTS_STORE_CONTRACT_H

#include "core/store.h"

/* Runs the group named suite_name. Each test gets a store from make(arg) and hands it to
 * cleanup(s, arg) afterwards (store_destroy(s) when cleanup is NULL). Returns the number of
 * failed tests (cmocka_run_group_tests_name's result). */
int store_contract_run(const char *suite_name, struct store *(*make)(void *arg),
		       void (*cleanup)(struct store *s, void *arg), void *arg);

#endif
