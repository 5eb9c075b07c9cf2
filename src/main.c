/* src/main.c — `embeval <command> [options]`: dispatch to src/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define EV_COMMAND(n)                                                          \
    extern const char ev_cmd_##n##_summary[];                                  \
    int ev_cmd_##n(int argc, char **argv);
#include "commands.inc"
#undef EV_COMMAND

typedef struct {
    const char *name;
    const char *summary;
    int (*fn)(int, char **);
} command;

static const command commands[] = {
#define EV_COMMAND(n) {#n, ev_cmd_##n##_summary, ev_cmd_##n},
#include "commands.inc"
#undef EV_COMMAND
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: embeval <command> [options]\n"
            "\n"
            "Evaluate image embedding models (ONNX) on labelled image sets: retrieval,\n"
            "clustering and classification quality, latency, size and license.\n"
            "\n"
            "Commands:\n");
    for (int i = 0; i < n_commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Options:\n"
            "  -h, --help     show this help\n"
            "  -V, --version  print the version\n"
            "\n"
            "Run 'embeval <command> --help' for a command's options.\n"
            "Exit codes: 0 ok, 1 runtime failure, 2 usage error, 3 invalid input\n"
            "data or model, 4 a --fail-on threshold was crossed.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EV_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        if (argc > 2 && !strcmp(cmd, "help")) {
            for (int i = 0; i < n_commands; i++)
                if (!strcmp(commands[i].name, argv[2])) {
                    char *hargv[] = {argv[2], "--help", NULL};
                    return commands[i].fn(2, hargv);
                }
        }
        usage(stdout);
        return EV_EXIT_OK;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("embeval %s\n", ev_version());
        return EV_EXIT_OK;
    }
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(commands[i].name, cmd)) return commands[i].fn(argc - 1, argv + 1);
    cli_error("unknown command '%s'", cmd);
    fprintf(stderr, "Run 'embeval --help' for the list of commands.\n");
    return EV_EXIT_USAGE;
}
