/*
** tools/cmd_token.c: `facetrail token add|list`, the access tokens of
** `facetrail serve --tokens FILE`. A token is 32 random bytes (from
** /dev/urandom) written as 64 hex digits; it is printed once, and the file
** keeps only its SHA-256 ("sha256:HASH ROLE NAME"), so that a copy of the
** file gives no access. The file is created with mode 0600.
*/
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char token_usage[] =
    "usage: facetrail token add --tokens FILE --role ROLE --name NAME\n"
    "       facetrail token list --tokens FILE\n"
    "\n"
    "The tokens `facetrail serve --tokens FILE` accepts ('Authorization: Bearer\n"
    "TOKEN'). add makes a random token, appends its hash to FILE (created 0600)\n"
    "and prints the token once: give it to its holder; it cannot be shown again.\n"
    "A running server reads FILE at its start.\n"
    "\n"
    "  --tokens FILE   the tokens file\n"
    "  --role ROLE     admin (cameras, purge, the audit log), operator (search with\n"
    "                  a case reason, the watchlist and its alerts), runner (a selfie\n"
    "                  search of their own appearances) or viewer (status)\n"
    "  --name NAME     who holds it, as the audit log will name them (no blanks at\n"
    "                  the ends; 1-63 bytes)\n";

static int is_role(const char *r)
{
    return !strcmp(r, "admin") || !strcmp(r, "operator") || !strcmp(r, "runner") ||
           !strcmp(r, "viewer");
}

static int token_add(int argc, char **argv)
{
    const char *file = NULL, *role = NULL, *name = NULL;
    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = "token add";
    while (opts_next(&o)) {
        if (opts_is_help(&o)) return print_help(token_usage);
        if (opts_is(&o, "--tokens")) {
            if (!(file = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--role")) {
            if (!(role = opts_value(&o))) return CLI_ERROR;
        } else if (opts_is(&o, "--name")) {
            if (!(name = opts_value(&o))) return CLI_ERROR;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    if (!file) return usage_error(o.cmd, "missing --tokens FILE");
    if (!role || !is_role(role))
        return usage_error(o.cmd, "--role: admin, operator, runner or viewer");
    if (!name || !*name || strlen(name) > 63 || strchr(name, '\n') || name[0] == ' ' ||
        name[strlen(name) - 1] == ' ')
        return usage_error(o.cmd, "--name: 1 to 63 bytes on one line, no blanks at the ends");
    unsigned char raw[32];
    int ur = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = ur >= 0 ? read(ur, raw, sizeof raw) : -1;
    if (ur >= 0) close(ur);
    if (got != (ssize_t)sizeof raw) {
        fprintf(stderr, "facetrail token add: cannot read /dev/urandom\n");
        return CLI_ERROR;
    }
    char tok[65], hash[65];
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(tok + 2 * i, 3, "%02x", raw[i]);
    memset(raw, 0, sizeof raw);
    if (ft_sha256_hex(tok, strlen(tok), hash) != FT_OK) {
        fprintf(stderr, "facetrail token add: out of memory\n");
        return CLI_ERROR;
    }
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "facetrail token add: %s: %s\n", file, strerror(errno));
        return CLI_ERROR;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
        fprintf(stderr, "warning: %s can be read by others (mode %03o): chmod 600 %s\n", file,
                (unsigned)(sb.st_mode & 0777), file);
    char line[256];
    int len = snprintf(line, sizeof line, "sha256:%s %s %s\n", hash, role, name);
    int ok = write(fd, line, (size_t)len) == len;
    if (close(fd) != 0) ok = 0;
    if (!ok) {
        fprintf(stderr, "facetrail token add: %s: %s\n", file, strerror(errno));
        return CLI_ERROR;
    }
    printf("%s\n", tok);
    fprintf(stderr, "%s %s token for %s was added to %s; it is printed above, once\n",
            role[0] == 'a' || role[0] == 'o' ? "an" : "a", role, name, file);
    return CLI_OK;
}

static int token_list(int argc, char **argv)
{
    const char *file = NULL;
    struct opts o;
    opts_init(&o, argc, argv);
    o.cmd = "token list";
    while (opts_next(&o)) {
        if (opts_is_help(&o)) return print_help(token_usage);
        if (opts_is(&o, "--tokens")) {
            if (!(file = opts_value(&o))) return CLI_ERROR;
        } else {
            return opts_unknown(&o);
        }
    }
    if (o.n_operands) return usage_error(o.cmd, "unexpected operand '%s'", argv[1]);
    if (!file) return usage_error(o.cmd, "missing --tokens FILE");
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "facetrail token list: %s: %s\n", file, strerror(errno));
        return CLI_ERROR;
    }
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char word[128], role[16], name[64] = "";
        if (line[0] == '#' || sscanf(line, "%127s %15s %63[^\n]", word, role, name) < 2) continue;
        printf("%-9s %-24s %s\n", role, name,
               strncmp(word, "sha256:", 7) ? "in the clear" : "hashed");
        n++;
    }
    fclose(f);
    if (!n) printf("no tokens\n");
    return CLI_OK;
}

int cmd_token(int argc, char **argv)
{
    if (argc < 2) return usage_error("token", "add or list?");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return print_help(token_usage);
    if (!strcmp(argv[1], "add")) return token_add(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list")) return token_list(argc - 1, argv + 1);
    return usage_error("token", "unknown subcommand '%s' (add or list)", argv[1]);
}
