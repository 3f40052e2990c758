/*
** tools/cmd_eval.c: `facetrail eval SUITE ...`, the accuracy evaluations.
**   eval lfw    face verification, LFW view-2 protocol (tools/cmd_eval_lfw.c)
**   eval wider  face detection, WIDER FACE protocol (tools/cmd_eval_wider.c)
**   eval strangers  people not at the event who get an appearance
**               (tools/cmd_eval_strangers.c)
*/
#include "cli.h"

#include <string.h>

const char eval_usage[] =
    "usage: facetrail eval lfw|wider|strangers [options]\n"
    "\n"
    "  lfw     face verification accuracy with the official LFW pairs protocol\n"
    "  wider   face detection AP with the official WIDER FACE protocol\n"
    "  strangers  how many people who were not at an event get an appearance\n"
    "\n"
    "'facetrail eval SUITE --help' lists a suite's options.\n";

int cmd_eval(int argc, char **argv)
{
    if (argc < 2) return usage_error("eval", "which evaluation? (lfw, wider or strangers)");
    const char *suite = argv[1];
    if (!strcmp(suite, "--help") || !strcmp(suite, "-h")) return print_help(eval_usage);
    if (!strcmp(suite, "lfw")) return cmd_eval_lfw(argc - 1, argv + 1);
    if (!strcmp(suite, "wider")) return cmd_eval_wider(argc - 1, argv + 1);
    if (!strcmp(suite, "strangers")) return cmd_eval_strangers(argc - 1, argv + 1);
    return usage_error("eval", "unknown evaluation '%s' (lfw, wider or strangers)", suite);
}
