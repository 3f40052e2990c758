/* tools/cmd_eval_wider.c: facetrail eval wider (being written). */
#include "cli.h"

int cmd_eval_wider(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return usage_error("eval wider", "not available yet");
}
