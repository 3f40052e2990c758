/*
** fuzz/manifest.c: fuzz target for the TF.js weights-manifest reader
** (ft__model_load, nn/model.c): the JSON manifest and the shard it names.
**
** DESIGN
**   Input layout: the manifest text, then optionally a NUL byte and the
**   bytes of the one shard file "w.bin" (a manifest naming other shards
**   meets a missing file, which is one more error path). Both are written to
**   this process's scratch folder as fz-weights_manifest.json and w.bin,
**   and the model "fz" is loaded from there; "fz" is not in the pin table,
**   so the bytes are parsed, not just hashed. A loaded model is walked
**   (every weight's values read) and freed.
*/
#include "fuzz.h"

#include "nn/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *shard;
    size_t n_json, n_shard;
    char path[320], err[512];
    ft_fuzz_split(data, size, &n_json, &shard, &n_shard);
    if (ft_fuzz_write("fz-weights_manifest.json", data, n_json, path, sizeof path)) return 0;
    if (shard != data + size) {
        if (ft_fuzz_write("w.bin", shard, n_shard, path, sizeof path)) return 0;
    } else {
        ft_fuzz_unlink("w.bin");
    }
    ft__model *m = NULL;
    if (ft__model_load(ft_fuzz_dir(), "fz", &m, err, sizeof err) == FT_OK) {
        float sum = 0;
        for (int i = 0; i < m->n; i++)
            for (size_t k = 0; k < m->w[i].count; k++)
                sum += m->w[i].data[k];
        (void)sum;
        int shape[4] = { 1, 1, 1, 1 };
        (void)ft__model_get(m, "w", 1, shape, err, sizeof err);
        ft__model_free(m);
    }
    return 0;
}
