/*
** tests/unit/test_merge.c: the answers of several shards merged into one
** (ft_search_json_merge, search/report.c). The answers are written here by
** hand in ft_search_json's schema; the expected merge is worked out by
** hand: appearances in time order, counts and expected false matches
** summed, the highest threshold, the estimate of the shard whose latest
** appearance is the latest, the asking node's query photos kept.
*/
#include "facetrail.h"
#include "facetrail/search.h"
#include "harness/test.h"

#include <jansson.h>
#include <string.h>

static const char base[] =
    "{\"query\":{\"file\":\"photo 1\"},\"queries\":[{\"file\":\"photo 1\"}],"
    "\"searched\":{\"sightings\":1},\"appearances\":[],\"flagged\":[],\"estimate\":null}";

/* shard A: km 3 at 09:10 and km 21 at 10:40; its estimate says km 25 */
static const char shard_a[] =
    "{\"queries\":[],\"searched\":{\"sightings\":100,\"descriptors\":190,\"threshold\":0.40,"
    "\"expected_false_confirmed\":0.004,\"expected_false_possible\":0},"
    "\"appearances\":[{\"camera\":\"km21\",\"first_seen\":\"2026-04-12T10:40:00.000Z\","
    "\"last_seen\":\"2026-04-12T10:40:03.000Z\"},{\"camera\":\"km03\",\"first_seen\":"
    "\"2026-04-12T09:10:00.000Z\",\"last_seen\":\"2026-04-12T09:10:02.000Z\"}],"
    "\"flagged\":[{\"camera\":\"km03\",\"first_seen\":\"2026-04-12T09:50:00.000Z\"}],"
    "\"estimate\":{\"km\":25}}";

/* shard B: km 38 at 12:05, the latest: its estimate (km 40) wins */
static const char shard_b[] =
    "{\"queries\":[],\"searched\":{\"sightings\":50,\"descriptors\":95,\"threshold\":0.42,"
    "\"expected_false_confirmed\":0.002,\"expected_false_possible\":0.5},"
    "\"appearances\":[{\"camera\":\"km38\",\"first_seen\":\"2026-04-12T12:05:00.000Z\","
    "\"last_seen\":\"2026-04-12T12:05:04.000Z\"}],\"flagged\":[],\"estimate\":{\"km\":40}}";

/* shard C: nothing */
static const char shard_c[] =
    "{\"queries\":[],\"searched\":{\"sightings\":70,\"descriptors\":130,\"threshold\":0.39,"
    "\"expected_false_confirmed\":0.003,\"expected_false_possible\":0},"
    "\"appearances\":[],\"flagged\":[],\"estimate\":null}";

static void test_merge_answers(void)
{
    const char *answers[3] = { shard_b, shard_c, shard_a };
    char *out = NULL, err[256] = "";
    int n_app = -1;
    ASSERT_OK(ft_search_json_merge(base, answers, 3, 4, &out, &n_app, err, sizeof err));
    ASSERT_EQ(n_app, 3);
    json_t *o = json_loads(out, 0, NULL);
    ASSERT(o != NULL);
    /* the asking node's photos */
    ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(o, "query"), "file")),
                  "photo 1");
    ASSERT_EQ((int)json_array_size(json_object_get(o, "queries")), 1);
    /* the timeline in time order, across shards */
    json_t *apps = json_object_get(o, "appearances");
    ASSERT_EQ((int)json_array_size(apps), 3);
    static const char *cams[3] = { "km03", "km21", "km38" };
    for (int i = 0; i < 3; i++)
        ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(apps, (size_t)i), "camera")),
                      cams[i]);
    ASSERT_EQ((int)json_array_size(json_object_get(o, "flagged")), 1);
    /* what was searched */
    json_t *se = json_object_get(o, "searched");
    ASSERT_EQ((int)json_integer_value(json_object_get(se, "sightings")), 220);
    ASSERT_EQ((int)json_integer_value(json_object_get(se, "descriptors")), 415);
    ASSERT_NEAR(json_number_value(json_object_get(se, "threshold")), 0.42, 1e-12);
    ASSERT_NEAR(json_number_value(json_object_get(se, "expected_false_confirmed")), 0.009, 1e-12);
    ASSERT_NEAR(json_number_value(json_object_get(se, "expected_false_possible")), 0.5, 1e-12);
    ASSERT_EQ((int)json_integer_value(json_object_get(se, "shards")), 3);
    ASSERT_EQ((int)json_integer_value(json_object_get(se, "shards_asked")), 4);
    /* the estimate of the shard that saw the person last */
    ASSERT_NEAR(json_number_value(json_object_get(json_object_get(o, "estimate"), "km")), 40, 0);
    json_decref(o);
    ft_store_free(out);
}

static void test_merge_no_appearance(void)
{
    const char *answers[1] = { shard_c };
    char *out = NULL, err[256] = "";
    int n_app = -1;
    ASSERT_OK(ft_search_json_merge(NULL, answers, 1, 1, &out, &n_app, err, sizeof err));
    ASSERT_EQ(n_app, 0);
    json_t *o = json_loads(out, 0, NULL);
    ASSERT(o != NULL);
    ASSERT(json_is_null(json_object_get(o, "estimate")));
    ASSERT_EQ((int)json_array_size(json_object_get(o, "appearances")), 0);
    json_decref(o);
    ft_store_free(out);
}

static void test_merge_refuses(void)
{
    char *out = NULL, err[256] = "";
    const char *bad[2] = { shard_a, "{\"searched\":{}}" };
    ASSERT_EQ(ft_search_json_merge(base, bad, 2, 2, &out, NULL, err, sizeof err), FT_EFORMAT);
    ASSERT_STR_CONTAINS(err, "answer 2 of 2");
    ASSERT(out == NULL);
    const char *not_json[1] = { "appearances" };
    ASSERT_EQ(ft_search_json_merge(base, not_json, 1, 1, &out, NULL, err, sizeof err), FT_EFORMAT);
    ASSERT_EQ(ft_search_json_merge("[1]", bad, 1, 1, &out, NULL, err, sizeof err), FT_EFORMAT);
    ASSERT_EQ(ft_search_json_merge(base, NULL, 1, 1, &out, NULL, err, sizeof err), FT_EINVAL);
}

FT_TESTS(FT_TEST(test_merge_answers), FT_TEST(test_merge_no_appearance),
         FT_TEST(test_merge_refuses))
