/* main.c — `ecom`: one binary, git-style subcommands. This directory is the only code that
 * knows both worlds (real backends and the simulator) and wires one of them together. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "src/cli/cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"sim", cmd_sim, "run, sweep, shrink and crash-test scenarios on the simulated backends"},
	{"serve", cmd_serve, "run services over HTTP (all in one process, or one on real backends)"},
	{"load", cmd_load, "generate orders against a running order service"},
	{"dlq", cmd_dlq, "list and replay dead-lettered messages"},
	{"token", cmd_token, "mint an admin JWT (HS256)"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: ecom <command> [options]\n\n"
		     "An event-driven e-commerce saga pipeline and its deterministic simulator.\n\n"
		     "commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-7s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'ecom <command> --help' for a command's options.\n");
}

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

const char *cli_shell_word(const char *s, char *buf, size_t cap)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_./:=@%+,-";
	size_t n = 0;

	if (cap == 0)
		return "";
	if (*s && strspn(s, safe) == strlen(s)) {
		snprintf(buf, cap, "%s", s);
		return buf;
	}
	if (cap < 3) {
		buf[0] = '\0';
		return buf;
	}
	buf[n++] = '\'';
	for (const char *p = s; *p; p++) {
		const char *piece = *p == '\'' ? "'\\''" : p;
		size_t len = *p == '\'' ? 4 : 1;

		if (n + len + 2 > cap) /* keep room for the closing quote and the NUL */
			break;
		memcpy(buf + n, piece, len);
		n += len;
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

/* libmongoc's own initializer (it runs before main in every process that links it) creates
 * /dev/shm/mongoc-<pid> for its performance counters, with O_EXCL, and removes it at exit.
 * A killed process (a sweep's timed-out seed, a stopped server) leaves its file behind, and a
 * later process that gets the same pid finds it taken and prints "Falling back to malloc for
 * counters" on stderr. A file named after our own pid can only be such a leftover (unless
 * another pid namespace shares /dev/shm, where the loss is that process's counters), so it is
 * removed here, in .preinit_array, which runs before any shared library's initializer
 * (only system calls: libc itself is not initialized yet). */
static void cli_drop_stale_mongoc_shm(int argc, char **argv, char **envp)
{
	char path[48] = "/dev/shm/mongoc-", digits[24];
	size_t n = 0, at = sizeof("/dev/shm/mongoc-") - 1; /* no libc string calls this early */
	unsigned long pid = (unsigned long)getpid();

	(void)argc;
	(void)argv;
	(void)envp;
	do {
		digits[n++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid);
	while (n > 0)
		path[at++] = digits[--n];
	path[at] = '\0';
	(void)unlink(path);
}
__attribute__((section(".preinit_array"), used)) static void (*const cli_preinit)(int, char **,
										 char **) =
	cli_drop_stale_mongoc_shm;

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ecom: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
