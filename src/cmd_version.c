/* src/cmd_version.c — `embeval version`: versions of embeval and its libraries. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char ev_cmd_version_summary[] = "print the version of embeval";

int ev_cmd_version(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("Usage: embeval version\n\nPrint the version of embeval.\n");
            return EV_EXIT_OK;
        }
        return cli_usage_error("version", "unexpected argument '%s'", argv[i]);
    }
    printf("embeval %s\n", ev_version());
    return EV_EXIT_OK;
}
