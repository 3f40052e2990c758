/*
** fuzz/replica.c: fuzz target for the replica message "FTR1"
** (ft_replica_decode, store/replica.c) and for applying what it decodes to a
** store (ft_store_replica_apply), then walking it back out
** (ft_store_replicas_after).
**
** DESIGN
**   The bytes are one message. Decode must refuse them (FT_EFORMAT) or take
**   them without reading past the end. Two properties abort when broken,
**   so that the fuzzer reports them as crashes:
**     (1) the form is canonical: a message decode takes encodes back to
**         exactly the same bytes;
**     (2) what decode takes, apply takes: into a new database (this
**         process's scratch file "in", emptied first) the replica is
**         stored once (n_new 1), a second apply stores nothing (n_new 0),
**         and the walk hands it back as a replica that encodes.
**   The walk's replica is not compared byte for byte with the input: the
**   store keeps a camera's position only when it has one and SQLite may
**   keep -0.0 as 0, so equal values can come back with other bytes.
**   Other statuses from the store (FT_EIO: the scratch folder) are not
**   findings (fuzz/fuzz.h, invariant (1)).
*/
#include "fuzz.h"

#include "facetrail.h"

static int walked(const ft_replica *r, void *ctx)
{
    int *n = ctx;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (ft_replica_encode(r, &buf, &len) != FT_OK) abort(); /* (2) */
    ft_store_free(buf);
    (*n)++;
    return 0;
}

static void apply(const ft_replica *r)
{
    char path[320];
    ft_fuzz_unlink("in");
    ft_fuzz_unlink("in-wal");
    ft_fuzz_unlink("in-shm");
    ft_fuzz_unlink("in-journal");
    const char *dir = ft_fuzz_dir();
    if (!*dir || (size_t)snprintf(path, sizeof path, "%s/in", dir) >= sizeof path) return;
    ft_store *st = NULL;
    if (ft_store_open(path, FT_STORE_CREATE, &st) != FT_OK) return;
    int n_new = -1;
    int rc = ft_store_replica_apply(st, r, 1, &n_new);
    if (rc == FT_EINVAL || (rc == FT_OK && n_new != 1)) abort(); /* (2) */
    if (rc == FT_OK) {
        rc = ft_store_replica_apply(st, r, 1, &n_new);
        if (rc == FT_EINVAL || (rc == FT_OK && n_new != 0)) abort();
        int n = 0;
        rc = ft_store_replicas_after(st, 0, 10, walked, &n);
        if (rc == FT_EINVAL || rc == FT_EFORMAT || (rc == FT_OK && n != 1)) abort();
    }
    ft_store_close(st);
    ft_fuzz_unlink("in");
    ft_fuzz_unlink("in-wal");
    ft_fuzz_unlink("in-shm");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ft_replica r; /* 3.5 KB: off the stack */
    if (ft_replica_decode(data, size, &r) != FT_OK) return 0;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (ft_replica_encode(&r, &buf, &len) != FT_OK) abort(); /* (1) */
    if (len != size || memcmp(buf, data, size) != 0) abort();
    ft_store_free(buf);
    char id[FT_REPLICA_ID_MAX];
    ft_replica_msg_id(&r, id);
    if (!memchr(id, 0, sizeof id)) abort();
    apply(&r);
    return 0;
}
