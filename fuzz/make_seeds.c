/*
** fuzz/make_seeds.c: writes the seeds that need the library's own encoders
** into the corpus folders: JPEG images (with and without an EXIF
** orientation), short videos in each container the writer makes, a
** small event database, and replica messages ("FTR1", ft_replica_encode:
** with descriptors and a JPEG thumbnail, the smallest, three descriptors).
** fuzz/make_seeds.py writes the rest and shrinks the database. Both are run by hand when the formats change (make fuzz-seeds);
** their output is committed under fuzz/corpus/.
**
**   build/release/fuzz/make_seeds fuzz/corpus
**
** DESIGN
**   Everything is tiny (images of a few hundred pixels, 32 x 32 videos of 4
**   frames) so that each seed is a few kilobytes: libFuzzer mutates small
**   inputs much faster, and the structure, not the size, is what the
**   readers parse. The pixel content is a fixed pattern, so that a rerun
**   writes the same images (the video muxers stamp no dates; the database
**   holds times given here, no wall clock except an ingest's start).
*/
#include "facetrail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int failures;

static void fail(const char *what, const char *err)
{
    fprintf(stderr, "make_seeds: %s: %s\n", what, err);
    failures++;
}

static void write_file(const char *dir, const char *sub, const char *name, const void *data,
                       size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) fail(path, "cannot write");
}

/* A w x h image with a fixed pattern: gradients and a bright square. */
static ft_image *pattern(int w, int h)
{
    ft_image *img;
    if (ft_image_create(w, h, &img) != FT_OK) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->rgb + ((size_t)y * w + x) * 3;
            int in = x > w / 4 && x < w / 2 && y > h / 4 && y < h / 2;
            p[0] = in ? 250 : (uint8_t)(x * 255 / w);
            p[1] = in ? 240 : (uint8_t)(y * 255 / h);
            p[2] = (uint8_t)((x + y) * 8);
        }
    return img;
}

/* ------------------------------------------------------------------------ */
/* Images                                                                   */
/* ------------------------------------------------------------------------ */

/* A JPEG APP1 segment holding an EXIF block with one IFD0 entry:
** Orientation (tag 0x0112, SHORT, count 1) = o, byte order II or MM. */
static size_t exif_app1(unsigned char *b, int o, int little)
{
    static const unsigned char ii[] = { 'I', 'I', 42, 0, 8, 0, 0, 0 };
    static const unsigned char mm[] = { 'M', 'M', 0, 42, 0, 0, 0, 8 };
    unsigned char tiff[8 + 2 + 12 + 4] = { 0 };
    memcpy(tiff, little ? ii : mm, 8);
#define PUT16(p, v) \
    (little ? ((p)[0] = (v)&0xff, (p)[1] = (v) >> 8) : ((p)[0] = (v) >> 8, (p)[1] = (v)&0xff))
    PUT16(tiff + 8, 1);            /* one entry */
    PUT16(tiff + 10, 0x0112);      /* Orientation */
    PUT16(tiff + 12, 3);           /* SHORT */
    tiff[little ? 14 : 17] = 1;    /* count 1 (32 bits) */
    PUT16(tiff + 18, (unsigned)o); /* the value, left-justified */
#undef PUT16
    size_t seg = 2 + 6 + sizeof tiff;
    b[0] = 0xFF, b[1] = 0xE1, b[2] = (unsigned char)(seg >> 8), b[3] = (unsigned char)seg;
    memcpy(b + 4, "Exif\0\0", 6);
    memcpy(b + 10, tiff, sizeof tiff);
    return 2 + seg;
}

static void jpeg_seeds(const char *dir)
{
    static const struct {
        int w, h, q, orient, little;
        const char *name;
    } s[] = {
        { 16, 12, 50, 0, 0, "rgb_16x12.jpg" }, { 7, 5, 90, 0, 0, "rgb_7x5_q90.jpg" },
        { 12, 8, 40, 6, 0, "exif6_mm.jpg" },   { 12, 8, 40, 8, 1, "exif8_ii.jpg" },
        { 9, 6, 40, 3, 1, "exif3_ii.jpg" },
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        ft_image *img = pattern(s[i].w, s[i].h);
        unsigned char *jpg = NULL;
        size_t n = 0;
        char err[256];
        if (!img || ft_image_encode_jpeg(img, s[i].q, &jpg, &n, err, sizeof err) != FT_OK) {
            fail(s[i].name, "cannot encode");
            ft_image_destroy(img);
            continue;
        }
        if (s[i].orient) {
            /* SOI, then the APP1 segment, then the rest */
            unsigned char *b = malloc(n + 64);
            size_t k = 2;
            memcpy(b, jpg, 2);
            k += exif_app1(b + 2, s[i].orient, s[i].little);
            memcpy(b + k, jpg + 2, n - 2);
            write_file(dir, "image", s[i].name, b, k + n - 2);
            /* the APP1 payload alone: the EXIF parser's own input */
            char name[64];
            snprintf(name, sizeof name, "app1_%.*s.bin", (int)(strlen(s[i].name) - 4), s[i].name);
            write_file(dir, "image", name, b + 6, k - 6);
            free(b);
        } else {
            write_file(dir, "image", s[i].name, jpg, n);
        }
        ft_store_free(jpg);
        ft_image_destroy(img);
    }
}

/* ------------------------------------------------------------------------ */
/* Videos                                                                   */
/* ------------------------------------------------------------------------ */

static void video_seed(const char *dir, const char *name, const char *codec, int rotation,
                       int fragmented)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/video/%s", dir, name);
    ft_video_writer_params p = ft_video_writer_default_params();
    p.codec = codec;
    p.gop = 2;
    p.quality = codec && strcmp(codec, "libx264") == 0 ? 40 : 20;
    p.display_rotation = rotation;
    p.fragmented = fragmented;
    ft_video_writer *w = NULL;
    if (ft_video_writer_open(path, 32, 32, 10.0, &p, &w, err, sizeof err) != FT_OK) {
        fail(path, err);
        return;
    }
    for (int i = 0; i < 4; i++) {
        ft_image *img = pattern(32, 32);
        if (img) {
            img->rgb[(size_t)i * 97 * 3] = 255; /* frames differ */
            (void)ft_video_writer_write(w, img);
        }
        ft_image_destroy(img);
    }
    if (ft_video_writer_close(w, err, sizeof err) != FT_OK) fail(path, err);
}

static void video_seeds(const char *dir)
{
    video_seed(dir, "mpeg4.avi", NULL, 0, 0);
    video_seed(dir, "mpeg4.mkv", NULL, 0, 0);
    video_seed(dir, "mpeg4.ts", NULL, 0, 0);
    video_seed(dir, "mpeg4_rot90.mp4", NULL, 90, 0);
    video_seed(dir, "mpeg4_frag.mp4", NULL, 0, 1);
    if (ft_video_encoder_available("libx264")) {
        video_seed(dir, "h264.mp4", "libx264", 0, 0);
        video_seed(dir, "h264_rot270.mov", "libx264", 270, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* A database                                                               */
/* ------------------------------------------------------------------------ */

static void store_seed(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/store/event.ftdb", dir);
    remove(path);
    ft_store *st = NULL;
    if (ft_store_open(path, FT_STORE_CREATE, &st) != FT_OK) {
        fail(path, ft_store_errmsg(NULL));
        return;
    }
    ft_camera c = {
        .id = "km05-north", .name = "bridge", .km = 5.0, .lat = 48.85, .lon = 2.35, .has_latlon = 1
    };
    int rc = ft_store_camera_add(st, &c);
    rc = rc ? rc : ft_store_meta_set(st, "time_zone", "Europe/Paris");
    int64_t ing = 0, resume = 0;
    rc =
        rc ? rc : ft_store_ingest_begin(st, c.id, "cam5.mp4", 1700000000000000, 5.0, &ing, &resume);
    static ft_sighting s[2];
    ft_image *thumb = pattern(8, 8);
    unsigned char *jpg = NULL;
    size_t n_jpg = 0;
    char err[256];
    if (thumb) (void)ft_image_encode_jpeg(thumb, 30, &jpg, &n_jpg, err, sizeof err);
    for (int i = 0; i < 2; i++) {
        s[i].ingest_id = ing;
        snprintf(s[i].camera_id, sizeof s[i].camera_id, "%s", c.id);
        s[i].track_key = i + 1;
        s[i].first_us = 1700000000000000 + i * 1000000;
        s[i].best_us = s[i].first_us + 200000;
        s[i].last_us = s[i].first_us + 400000;
        s[i].box[0] = 4, s[i].box[1] = 5, s[i].box[2] = 20, s[i].box[3] = 24;
        s[i].face_px = 24, s[i].det_score = 0.9f, s[i].quality = 0.5f, s[i].n_frames = 3;
        s[i].thumbnail = i == 0 ? jpg : NULL;
        s[i].thumbnail_len = i == 0 ? n_jpg : 0;
        s[i].n_desc = i + 1;
        for (int d = 0; d < s[i].n_desc; d++) {
            for (int k = 0; k < FT_DESCRIPTOR_DIM; k++)
                s[i].desc[d][k] = (float)((k * 7 + d * 3 + i) % 11) / 16.0f - 0.3f;
            s[i].desc_quality[d] = 0.5f;
        }
    }
    rc = rc ? rc : ft_store_ingest_commit(st, ing, s, 2, 1400000, 14, 2);
    rc = rc ? rc : ft_store_ingest_finish(st, ing, FT_INGEST_DONE, NULL);
    static ft_watch w;
    snprintf(w.name, sizeof w.name, "runner 12");
    w.n_desc = 1;
    memcpy(w.desc[0], s[0].desc[0], sizeof w.desc[0]);
    rc = rc ? rc : ft_store_watch_add(st, &w);
    if (rc != FT_OK) fail(path, ft_store_errmsg(st));
    ft_store_free(jpg);
    ft_image_destroy(thumb);
    ft_store_close(st);
}

/* ------------------------------------------------------------------------ */
/* Replica messages                                                         */
/* ------------------------------------------------------------------------ */

static void replica_seed(const char *dir, const char *name, const ft_replica *r)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    if (ft_replica_encode(r, &buf, &len) != FT_OK) {
        fail(name, "cannot encode the replica");
        return;
    }
    write_file(dir, "replica", name, buf, len);
    ft_store_free(buf);
}

static void replica_seeds(const char *dir)
{
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/replica", dir);
    mkdir(sub, 0755); /* exists already after the first run */
    static ft_replica r;
    memset(&r, 0, sizeof r);
    snprintf(r.camera.id, sizeof r.camera.id, "km05-north");
    snprintf(r.camera.name, sizeof r.camera.name, "bridge");
    r.camera.km = 5.0, r.camera.lat = 48.85, r.camera.lon = 2.35, r.camera.has_latlon = 1;
    snprintf(r.source, sizeof r.source, "cam5.mp4");
    r.start_us = 1700000000000000;
    r.sample_fps = 5.0;
    snprintf(r.space, sizeof r.space, "faceapi-chip68");
    snprintf(r.pipeline, sizeof r.pipeline, "detector=ssd descriptor=faceapi metric=euclidean");
    ft_sighting *s = &r.s;
    s->track_key = 12;
    s->first_us = r.start_us + 1000000;
    s->best_us = s->first_us + 200000;
    s->last_us = s->first_us + 400000;
    s->box[0] = 4, s->box[1] = 5, s->box[2] = 20, s->box[3] = 24;
    s->face_px = 24, s->det_score = 0.9f, s->quality = 0.5f, s->n_frames = 3;
    s->n_desc = 2;
    for (int d = 0; d < FT_SIGHTING_MAX_DESC; d++) {
        for (int k = 0; k < FT_DESCRIPTOR_DIM; k++)
            s->desc[d][k] = (float)((k * 7 + d * 3) % 11) / 16.0f - 0.3f;
        s->desc_quality[d] = 0.5f + 0.125f * (float)d;
    }
    ft_image *thumb = pattern(8, 8);
    unsigned char *jpg = NULL;
    size_t n_jpg = 0;
    char err[256];
    if (!thumb || ft_image_encode_jpeg(thumb, 30, &jpg, &n_jpg, err, sizeof err) != FT_OK)
        fail("replica thumbnail", thumb ? err : "out of memory");
    s->thumbnail = jpg;
    s->thumbnail_len = n_jpg;
    replica_seed(dir, "full.ftr1", &r);

    s->n_desc = 3;
    s->thumbnail = NULL;
    s->thumbnail_len = 0;
    r.camera.has_latlon = 0;
    r.sample_fps = 0;
    replica_seed(dir, "three_desc.ftr1", &r);

    /* the smallest: one-byte strings, none empty that must not be */
    memset(&r, 0, sizeof r);
    snprintf(r.camera.id, sizeof r.camera.id, "k");
    snprintf(r.source, sizeof r.source, "v");
    snprintf(r.space, sizeof r.space, "s");
    replica_seed(dir, "small.ftr1", &r);
    ft_store_free(jpg);
    ft_image_destroy(thumb);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (with image/, video/, store/ in it)\n", argv[0]);
        return 2;
    }
    jpeg_seeds(argv[1]);
    video_seeds(argv[1]);
    store_seed(argv[1]);
    replica_seeds(argv[1]);
    return failures ? 1 : 0;
}
