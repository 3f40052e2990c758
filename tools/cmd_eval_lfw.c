/* tools/cmd_eval_lfw.c: facetrail eval lfw (being written). */
#include "cli.h"

int cmd_eval_lfw(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return usage_error("eval lfw", "not available yet");
}
