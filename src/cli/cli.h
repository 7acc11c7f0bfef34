/* cli.h — the `ecom` subcommands. Each lives in its own cmd_*.c and returns the process
 * exit code: 0 success, 1 expectation not met / operation failed, 2 bad usage or input. */
#ifndef ECOM_CLI_H
#define ECOM_CLI_H

#include <stddef.h>

int cmd_sim(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_token(int argc, char **argv);

/* jalloc.c: a free-list cache in front of malloc for jansson's small blocks (simulator
 * runs); a no-op under AddressSanitizer. */
void cli_jansson_cache_install(void);

/* True when argv has -h or --help before any "--". */
int cli_wants_help(int argc, char **argv);

/* s as one POSIX shell word, for the "reproduce:" commands we print: s itself when it is
 * made of characters no shell treats specially, else in single quotes (a ' inside becomes
 * '\''). Writes into buf (cap bytes; 4 * strlen(s) + 3 always fits) and returns buf; a
 * word that does not fit is cut short, still quoted. */
#define CLI_SHELL_WORD_MAX 4096
const char *cli_shell_word(const char *s, char *buf, size_t cap);

#endif
