/*
** nn/dlib.h: a bounds-checked reader of dlib's serialisation format (the
** .dat model files: the 5-point shape predictor, the ResNet descriptor net).
**
** DESIGN
**   A .dat file is read whole into memory (ft__dat_load, which also checks
**   the file's SHA-256 pin, see nn/model.c) and then walked by an ft__dat
**   cursor. Each ft__dat_* call decodes one value in dlib's format, as
**   dlib/serialize.h writes it:
**     integer    a control byte (bit 7: negative, for signed types; low
**                nibble: the number of magnitude bytes, 1..sizeof(T)),
**                then the magnitude little-endian. Unsigned types refuse a
**                control byte with bit 7 set; bits 4-6 are ignored.
**     float      "portable float": mantissa (int64 integer) and exponent
**                (int16 integer), value ldexp((T)mantissa, exponent) in the
**                destination type T; exponent 32000/32001/32002 mean +inf,
**                -inf, NaN. A first byte with any of bits 4-6 set marks
**                dlib's old ASCII float format, which is refused.
**     bool       one ASCII byte, '1' or '0'.
**     string     length (unsigned long), then the bytes, no terminator.
**     vector     count (unsigned long), then the elements.
**     matrix     rows and columns (long; negated in the current format),
**                then the elements row by row.
**     tensor     (dnn) the raw data is little-endian IEEE float32, 4 bytes
**                each (ft__dat_f32le).
**   "long" and "unsigned long" are 8 bytes (dlib on 64-bit Linux), "int"
**   is 4; the width limits the control byte's count as dlib does.
**
** INVARIANTS  (1) no input makes a reader read outside [p, p + len).
**             (2) the first failure sets d->failed to its status (FT_EMODEL
**                 or FT_ENOMEM) and writes one message naming the file and
**                 the byte offset of the value that failed; every later
**                 call returns that status at once and reads nothing, so a
**                 loader may check only at the end of a block.
**             (3) on failure, outputs are zero (numbers) or NULL (arrays).
** OWNERSHIP   The cursor borrows p and err; arrays it returns are ft__malloc'd
**             and owned by the caller (ft__free).
** THREADS     A cursor is used by one thread; the buffer may be shared.
** SEE ALSO    tests/unit/test_dlib_dat.c.
*/
#ifndef FT_NN_DLIB_H
#define FT_NN_DLIB_H

#include "core/core.h"

#include <stdint.h>

/* A read cursor over the bytes of a .dat file. */
typedef struct ft__dat {
    const unsigned char *p; /* the file's bytes (borrowed) */
    size_t len, pos;        /* size, and offset of the next byte to read */
    int failed;             /* FT_OK, or the status of the first failure */
    char *err;              /* message buffer (borrowed; may be NULL) */
    size_t errlen;
    const char *name; /* file name for messages (borrowed) */
} ft__dat;

/* Reads the file at path into a new buffer (*buf, ft__free it) and checks it
** against the model pin table by its base name (ft__model_check_pin).
** FT_EIO/FT_ETOOBIG/FT_ENOMEM/FT_EMODEL with a message; *buf NULL then. */
int ft__dat_load(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen);

/* Sets up a cursor at offset 0 of p[0..len). name appears in messages. */
void ft__dat_init(ft__dat *d, const unsigned char *p, size_t len, const char *name, char *err,
                  size_t errlen);

/* Records a failure at the current offset: FT_EMODEL, message
** "<name>: byte <pos>: <fmt...>". Keeps the first failure: if d has already
** failed, returns that status and leaves the message alone. */
int ft__dat_fail(ft__dat *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Bytes left after the cursor. */
static inline size_t ft__dat_left(const ft__dat *d)
{
    return d->len - d->pos;
}

/* A signed integer serialised from a type of `width` bytes (1..8). */
int ft__dat_intw(ft__dat *d, int width, int64_t *v);
/* An unsigned integer serialised from a type of `width` bytes (1..8). */
int ft__dat_uintw(ft__dat *d, int width, uint64_t *v);

/* long / int64 (8 bytes) and int (4 bytes). */
int ft__dat_int(ft__dat *d, int64_t *v);
int ft__dat_int32(ft__dat *d, int32_t *v);
/* unsigned long / uint64 (8 bytes). */
int ft__dat_uint(ft__dat *d, uint64_t *v);

/* A portable float read into a float (ldexpf((float)mantissa, exp)). */
int ft__dat_float(ft__dat *d, float *v);
/* A portable float read into a double (ldexp((double)mantissa, exp)). */
int ft__dat_double(ft__dat *d, double *v);

/* A bool ('1' or '0'). */
int ft__dat_bool(ft__dat *d, int *v);
/* One raw byte (char, unsigned char). */
int ft__dat_byte(ft__dat *d, unsigned char *v);
/* n raw bytes copied into out. */
int ft__dat_bytes(ft__dat *d, void *out, size_t n);

/* A string into buf (NUL-terminated); a string of cap or more bytes is
** FT_EMODEL ("too long"). *n (if not NULL) gets its length. */
int ft__dat_string(ft__dat *d, char *buf, size_t cap, size_t *n);
/* A string that must equal want; what names it in the message, e.g.
** "the shape predictor's version". FT_EMODEL otherwise. */
int ft__dat_expect_string(ft__dat *d, const char *want, const char *what);

/* A vector's element count, refused (FT_EMODEL naming what) if above max or
** if fewer than count * min_bytes bytes are left (min_bytes: the smallest
** encoding of one element, e.g. 4 for a float), so that no huge allocation
** is made for a truncated or garbage count. */
int ft__dat_count(ft__dat *d, size_t max, size_t min_bytes, size_t *n, const char *what);

/* n portable floats into out[0..n). */
int ft__dat_floats(ft__dat *d, float *out, size_t n);
/* A std::vector<float>: count, then floats; *out is new (NULL if n == 0). */
int ft__dat_float_vector(ft__dat *d, float **out, size_t *n, const char *what);
/* A dlib::matrix<float> header: rows and columns (either sign), refused if
** negative beyond the format's sign flip, over max elements, or larger than
** the bytes left can hold. */
int ft__dat_matrix_dims(ft__dat *d, size_t max, long *nr, long *nc, const char *what);
/* A dlib::matrix<float>: dims then nr*nc floats row by row, into a new
** array (*out NULL if empty). */
int ft__dat_float_matrix(ft__dat *d, size_t max, float **out, long *nr, long *nc, const char *what);

/* n little-endian IEEE float32 values (dnn tensor data) into out[0..n). */
int ft__dat_f32le(ft__dat *d, float *out, size_t n);

#endif
