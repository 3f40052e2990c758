#!/usr/bin/env python3
"""fuzz/make_seeds.py: writes the seeds of fuzz/corpus/ that need no encoder
of the library (fuzz/make_seeds.c writes the JPEGs, videos and database).

    python3 fuzz/make_seeds.py fuzz/corpus        (make fuzz-seeds runs both)

Seeds are small, hand-made, valid inputs (plus a few that stop at known
checks): the fuzzer mutates from there. What they are, per folder:
  onnx/      ONNX models written field by field (protobuf wire format by
             hand, onnx.proto's field numbers): a Conv+Relu net, the whole
             operator set of nn/onnx_net.c in one graph, and typed
             (non-raw) initializers with every attribute kind.
  dlib/      a 5-point shape predictor in dlib's serialisation format (one
             cascade, one tree), and the first bytes of the two real .dat
             files when models/dlib is there (CC0, models/dlib/LICENSE).
  manifest/  TF.js manifests, then a NUL byte and the shard (fuzz/manifest.c).
  image/     PNGs of each colour type, bit depth and interlace (zlib only).
  lfw_pairs/ pairs.txt files; wider/ ground truth NUL index NUL predictions.
  store/     the database make_seeds.c wrote, copied to 512-byte pages
             (VACUUM) in rollback and WAL mode, and with other schema
             versions; the original (4 KB pages) is replaced.
  http/      raw HTTP requests to the server (fuzz/http.c): every route,
             with and without a token of each role, multipart forms (a
             7x5 JPEG from image/ as the photo), JSON bodies, chunked
             bodies, a bad boundary, two requests on one connection.
Nothing random: a rerun writes the same bytes.
"""
import json
import os
import shutil
import sqlite3
import struct
import sys
import zlib

OUT = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus"


def put(sub, name, data):
    os.makedirs(os.path.join(OUT, sub), exist_ok=True)
    with open(os.path.join(OUT, sub, name), "wb") as f:
        f.write(data)


# --------------------------------------------------------------------------
# ONNX: protobuf by hand

def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_int(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, b):
    return key(field, 2) + varint(len(b)) + b


def f_str(field, s):
    return f_bytes(field, s.encode())


def f_float(field, v):
    return key(field, 5) + struct.pack("<f", v)


def tensor_f(name, dims, vals, raw=True):
    t = b"".join(f_int(1, d) for d in dims) + f_int(2, 1) + f_str(8, name)
    data = struct.pack("<%df" % len(vals), *vals)
    return t + (f_bytes(9, data) if raw else f_bytes(4, data))


def tensor_i(name, dims, vals):
    t = b"".join(f_int(1, d) for d in dims) + f_int(2, 7) + f_str(8, name)
    return t + f_bytes(7, b"".join(varint(v) for v in vals))


def attr_i(name, v):
    return f_str(1, name) + f_int(3, v) + f_int(20, 2)


def attr_f(name, v):
    return f_str(1, name) + f_float(2, v) + f_int(20, 1)


def attr_s(name, v):
    return f_str(1, name) + f_str(4, v) + f_int(20, 3)


def attr_is(name, vs):
    return f_str(1, name) + b"".join(f_int(8, v) for v in vs) + f_int(20, 7)


def attr_fs(name, vs):
    return f_str(1, name) + b"".join(f_float(7, v) for v in vs) + f_int(20, 6)


def attr_t(name, t):
    return f_str(1, name) + f_bytes(5, t) + f_int(20, 4)


def node(op, name, ins, outs, attrs=()):
    n = b"".join(f_str(1, i) for i in ins) + b"".join(f_str(2, o) for o in outs)
    n += f_str(3, name) + f_str(4, op)
    return n + b"".join(f_bytes(5, a) for a in attrs)


def value_info(name, dims):
    shape = b""
    for d in dims:
        shape += f_bytes(1, f_int(1, d) if d >= 0 else f_str(2, "n"))
    tt = f_int(1, 1) + f_bytes(2, shape)
    return f_str(1, name) + f_bytes(2, f_bytes(1, tt))


def model(nodes, inits, inputs, outputs, opset=11, ir=7):
    g = b"".join(f_bytes(1, n) for n in nodes) + f_str(2, "seed")
    g += b"".join(f_bytes(5, t) for t in inits)
    g += b"".join(f_bytes(11, v) for v in inputs) + b"".join(f_bytes(12, v) for v in outputs)
    m = f_int(1, ir) + f_str(2, "make_seeds") + f_bytes(7, g)
    return m + f_bytes(8, f_str(1, "") + f_int(2, opset))


def frac(n, mul, mod):
    return [((i * mul) % mod - mod // 2) / 8.0 for i in range(n)]


def onnx_seeds():
    # Conv (3x3, stride 1, pads 1) + Relu, bias, symbolic N/H/W
    put("onnx", "conv_relu.onnx", model(
        [node("Conv", "c", ["x", "W", "B"], ["c"],
              [attr_is("kernel_shape", [3, 3]), attr_is("strides", [1, 1]),
               attr_is("pads", [1, 1, 1, 1]), attr_i("group", 1)]),
         node("Relu", "r", ["c"], ["y"])],
        [tensor_f("W", [2, 1, 3, 3], frac(18, 7, 13)), tensor_f("B", [2], [0.25, -0.5])],
        [value_info("x", [-1, 1, -1, -1])], [value_info("y", [-1, 2, -1, -1])]))
    # the interpreter's whole operator set (as tests/unit/test_yunet.c's hand model)
    nodes = [
        node("Conv", "c1", ["x", "W1", "B1"], ["c1o"],
             [attr_is("kernel_shape", [3, 3]), attr_is("strides", [2, 2]),
              attr_is("pads", [1, 1, 1, 1]), attr_is("dilations", [1, 1]), attr_i("group", 1)]),
        node("Relu", "r1", ["c1o"], ["c1"]),
        node("Conv", "dw", ["c1", "WD", "BD"], ["dw"],
             [attr_is("kernel_shape", [3, 3]), attr_is("pads", [1, 1, 1, 1]), attr_i("group", 3)]),
        node("MaxPool", "mp", ["dw"], ["mp"],
             [attr_is("kernel_shape", [2, 2]), attr_is("strides", [2, 2]), attr_i("ceil_mode", 0)]),
        node("Resize", "up", ["mp", "roi", "scales"], ["up"],
             [attr_s("coordinate_transformation_mode", "asymmetric"),
              attr_f("cubic_coeff_a", -0.75), attr_s("mode", "nearest"),
              attr_s("nearest_mode", "floor")]),
        node("Add", "add", ["dw", "up"], ["add"], [attr_fs("unread", [1, 1, 2, 2])]),
        node("Transpose", "tr", ["add"], ["tr"], [attr_is("perm", [0, 2, 3, 1])]),
        node("Shape", "sh", ["add"], ["sh"]),
        node("Gather", "ga", ["sh", "idx0"], ["ga"], [attr_i("axis", 0)]),
        node("Unsqueeze", "un", ["ga"], ["un"], [attr_is("axes", [0])]),
        node("Constant", "k3", [], ["k3"], [attr_t("value", tensor_i("k3v", [1], [3]))]),
        node("Concat", "cc", ["un", "m1", "k3"], ["cc"], [attr_i("axis", 0)]),
        node("Reshape", "rs", ["tr", "cc"], ["rs"]),
        node("Sigmoid", "sg", ["rs"], ["y"]),
        node("Conv", "pw", ["c1", "WP"], ["z"], [attr_is("kernel_shape", [1, 1])]),
    ]
    inits = [
        tensor_f("W1", [3, 2, 3, 3], frac(54, 7, 13)),
        tensor_f("B1", [3], [-0.25, 0, 0.25], raw=False),
        tensor_f("WD", [3, 1, 3, 3], frac(27, 5, 11)),
        tensor_f("BD", [3], [0.125, 0, -0.125]),
        tensor_f("WP", [2, 3, 1, 1], [-0.5, -0.25, 0, 0.25, 0.5, 0.75], raw=False),
        tensor_f("roi", [0], []),
        tensor_f("scales", [4], [1, 1, 2, 2]),
        tensor_i("idx0", [], [0]),
        tensor_i("m1", [1], [-1]),
    ]
    put("onnx", "all_ops.onnx", model(
        nodes, inits,
        [value_info("x", [-1, 2, -1, -1]), value_info("W1", [3, 2, 3, 3])],
        [value_info("y", [-1, -1, 3]), value_info("z", [-1, 2, -1, -1])]))
    # fixed input size, a graph the interpreter refuses (Softmax), opset 13
    put("onnx", "fixed_softmax.onnx", model(
        [node("Conv", "c", ["x", "W"], ["c"], [attr_is("kernel_shape", [1, 1])]),
         node("Softmax", "s", ["c"], ["y"], [attr_i("axis", 1)])],
        [tensor_f("W", [2, 3, 1, 1], [0.5, -0.5, 0.25, 1, 0, -1], raw=False)],
        [value_info("x", [1, 3, 4, 4])], [value_info("y", [1, 2, 4, 4])], opset=13, ir=8))


# --------------------------------------------------------------------------
# dlib's serialisation format

def dl_int(v):
    m = -v if v < 0 else v
    b = bytearray()
    while True:
        b.append(m & 0xFF)
        m >>= 8
        if not m:
            break
    return bytes([len(b) | (0x80 if v < 0 else 0)]) + bytes(b)


def dl_float(f):
    import math
    if f == 0:
        return dl_int(0) + dl_int(0)
    m, e = math.frexp(f)
    man = int(m * (1 << 24))
    ex = e - 24
    while man and (man & 0xFF) == 0:
        man >>= 8
        ex += 8
    return dl_int(man) + dl_int(ex)


def shape_predictor(trees=1, splits=1):
    """A 5-point predictor: one cascade of `trees` trees of `splits` splits."""
    mean = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75), (0.5, 0.5)]
    b = dl_int(1) + dl_int(-10) + dl_int(-1)
    for x, y in mean:
        b += dl_float(x) + dl_float(y)
    b += dl_int(1) + dl_int(trees)
    for t in range(trees):
        b += dl_int(splits)
        for s in range(splits):
            b += dl_int(s % 2) + dl_int((s + 1) % 2) + dl_float(69.5 - 10 * s)
        b += dl_int(splits + 1)
        for leaf in range(splits + 1):
            d = 0.13 if leaf % 2 == 0 else -0.13
            b += dl_int(-10) + dl_int(-1)
            for _ in range(5):
                b += dl_float(d) + dl_float(d / 6)
    b += dl_int(1) + dl_int(2) + dl_int(0) + dl_int(1)   # anchors
    b += dl_int(1) + dl_int(2)                           # deltas
    b += dl_float(0) + dl_float(0) + dl_float(0.5) + dl_float(-0.25)
    return b


def dlib_seeds():
    put("dlib", "shape5_tiny.dat", shape_predictor())
    put("dlib", "shape5_3trees.dat", shape_predictor(trees=3, splits=3))
    for name, n in (("shape_predictor_5_face_landmarks.dat", 2048),
                    ("dlib_face_recognition_resnet_model_v1.dat", 4096)):
        path = os.path.join("models", "dlib", name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                put("dlib", "head_" + name, f.read(n))


# --------------------------------------------------------------------------
# TF.js manifests: JSON, NUL, shard

def manifest_seeds():
    m = [{"paths": ["w.bin"], "weights": [
        {"name": "conv/filters", "shape": [1, 1, 2, 2], "dtype": "float32"},
        {"name": "conv/bias", "shape": [2], "dtype": "float32",
         "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
        {"name": "count", "shape": [], "dtype": "int32"},
        {"name": "idx", "shape": [3], "dtype": "int32",
         "quantization": {"dtype": "uint16", "scale": 1.5, "min": 0.0}}]}]
    shard = struct.pack("<4f", 0.5, -1.5, 2.0, 0.0) + bytes([3, 200]) + struct.pack("<i", -7)
    shard += struct.pack("<3H", 1, 2, 65535)
    put("manifest", "four_weights", json.dumps(m).encode() + b"\0" + shard)
    m2 = [{"paths": ["w.bin"], "weights": [{"name": "a", "shape": [2], "dtype": "float32"}]},
          {"paths": ["w.bin", "w.bin"], "weights": [
              {"name": "b", "shape": [4], "dtype": "float32"}]}]
    # the second group reads w.bin twice: 16 bytes for b
    put("manifest", "two_groups", json.dumps(m2).encode() + b"\0" + struct.pack("<2f", 1, 2))
    put("manifest", "no_shard", json.dumps(m).encode())
    # a real manifest's layout (face-api.js, MIT), every dim cut to 1, so
    # that the shard is one stored value per weight
    path = "models/face-api/model/face_landmark_68_tiny_model-weights_manifest.json"
    if os.path.exists(path):
        with open(path) as f:
            real = json.load(f)
        n = 0
        for g in real:
            g["paths"] = ["w.bin"]
            for w in g["weights"]:
                w["shape"] = [1 for _ in w["shape"]]
                q = w.get("quantization")
                n += 2 if q and q.get("dtype") == "uint16" else 1 if q else 4
        shard = bytes((i * 7) & 0xFF for i in range(n))
        put("manifest", "landmark_tiny_shape1", json.dumps(real).encode() + b"\0" + shard)


# --------------------------------------------------------------------------
# PNG by hand (zlib)

def png(w, h, color, depth, interlace=0, palette=None, trns=None):
    chans = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    bpp_bits = chans * depth
    def row(y, width):
        nbytes = (width * bpp_bits + 7) // 8
        return bytes([0]) + bytes(((x * 37 + y * 11) & 0xFF) for x in range(nbytes))
    raw = b""
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                  (1, 0, 2, 2), (0, 1, 1, 2)]
        for x0, y0, dx, dy in passes:
            pw = (w - x0 + dx - 1) // dx if w > x0 else 0
            ph = (h - y0 + dy - 1) // dy if h > y0 else 0
            if pw and ph:
                raw += b"".join(row(y, pw) for y in range(ph))
    else:
        raw = b"".join(row(y, w) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace))
    if palette is not None:
        out += chunk(b"PLTE", palette)
    if trns is not None:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def image_seeds():
    pal = bytes(((i * 40) & 0xFF) for i in range(3 * 16))
    put("image", "rgb8.png", png(9, 7, 2, 8))
    put("image", "rgba8.png", png(6, 5, 6, 8))
    put("image", "gray1.png", png(13, 3, 0, 1))
    put("image", "gray16.png", png(5, 4, 0, 16))
    put("image", "graya8.png", png(4, 4, 4, 8))
    put("image", "rgb16_interlaced.png", png(11, 9, 2, 16, interlace=1))
    put("image", "palette4_trns.png", png(8, 6, 3, 4, palette=pal, trns=bytes([0, 128])))


# --------------------------------------------------------------------------
# LFW pairs and WIDER FACE

def text_seeds():
    put("lfw_pairs", "two_folds.txt",
        b"2\t2\nAlice\t1\t2\nBob\t1\t3\nAlice\t1\tBob\t2\nCarol\t4\tDan\t1\n"
        b"Carol\t1\t2\nDan\t2\t3\nErin\t1\tAlice\t2\nBob\t3\tCarol\t5\n")
    put("lfw_pairs", "one_fold_crlf.txt",
        b"1 1\r\nAaron_Peirsol 1 2\r\nAaron_Peirsol 1 AJ_Cook 1\r\n\r\n")
    put("lfw_pairs", "header_only.txt", b"10 300\n")
    gt = (b"0--Parade/0_Parade_marchingband_1_5.jpg\n2\n"
          b"78 221 7 8 2 0 0 0 0 0 \n78 238 14 17 2 0 0 0 0 0 \n"
          b"1--Handshaking/1_Handshaking_1_42.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n"
          b"2--Demonstration/2_Demonstration_1_1.jpg\n1\n10 -2 5 -1 0 1 0 0 1 0 \n")
    index = (b"# index\n0--Parade/0_Parade_marchingband_1_5.jpg\t1 2\n"
             b"1--Handshaking/1_Handshaking_1_42.jpg\t\n"
             b"2--Demonstration/2_Demonstration_1_1.jpg\t1\n")
    preds = (b'{"file": "images/0--Parade/0_Parade_marchingband_1_5.jpg", "faces": '
             b'[{"box": [78, 220, 8, 9], "score": 0.9}, {"box": [1, 1, 5, 5], "score": 0.2}],'
             b' "ms_detect": 12.5}\n'
             b'{"file": "1--Handshaking/1_Handshaking_1_42.jpg", "faces": []}\n'
             b'{"file": "2--Demonstration/2_Demonstration_1_1.jpg", "error": "cannot read"}\n'
             b'{"file": "2--Demonstration/2_Demonstration_1_1.jpg", "faces": '
             b'[{"box": [10, -2, 5, 3], "score": 0.7}]}\n'
             b'{"file": "unknown.jpg", "faces": []}\n')
    put("wider", "gt_index_preds", gt + b"\0" + index + b"\0" + preds)
    put("wider", "gt_only", gt)
    put("wider", "gt_index", gt + b"\0" + index)


# --------------------------------------------------------------------------
# The database: smaller pages, both journal modes, other schema versions

def store_seeds():
    src = os.path.join(OUT, "store", "event.ftdb")
    if not os.path.exists(src):
        print("make_seeds.py: no %s (run make_seeds first); store seeds skipped" % src)
        return
    def variant(name, page_size, wal, user_version=None):
        dst = os.path.join(OUT, "store", name)
        tmp = dst + ".tmp"
        shutil.copyfile(src, tmp)
        db = sqlite3.connect(tmp, isolation_level=None)
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA page_size=%d" % page_size)
        if user_version is not None:
            db.execute("PRAGMA user_version=%d" % user_version)
        db.execute("VACUUM")
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        db.close()
        for ext in ("-wal", "-shm"):
            if os.path.exists(tmp + ext):
                os.remove(tmp + ext)
        os.replace(tmp, dst)
        for ext in ("-wal", "-shm"):  # of an earlier open of dst: not seeds
            if os.path.exists(dst + ext):
                os.remove(dst + ext)
    variant("event_p512.ftdb", 512, False)
    variant("event_p512_wal.ftdb", 512, True)
    variant("event_p512_v3.ftdb", 512, False, user_version=3)
    variant("event_p512_v99.ftdb", 512, False, user_version=99)
    os.remove(src)
    put("store", "empty", b"")
    put("store", "header_only", b"SQLite format 3\0" + bytes(84))


# --------------------------------------------------------------------------
# HTTP requests to the server (fuzz/http.c: its tokens, its database)

def http_seeds():
    jpg_path = os.path.join(OUT, "image", "rgb_7x5_q90.jpg")
    if not os.path.exists(jpg_path):
        print("make_seeds.py: no %s (run make_seeds first); http seeds skipped" % jpg_path)
        return
    with open(jpg_path, "rb") as f:
        jpg = f.read()

    def auth(role):
        return ("Authorization: Bearer fuzz-token-%s\r\n" % role).encode() if role else b""

    def req(method, path, role=None, headers=b"", body=b""):
        head = ("%s %s HTTP/1.1\r\nHost: localhost\r\n" % (method, path)).encode()
        head += auth(role) + headers
        if body and b"Transfer-Encoding" not in headers:
            head += b"Content-Length: %d\r\n" % len(body)
        return head + b"\r\n" + body

    def json_req(path, role, obj):
        body = json.dumps(obj, separators=(",", ":")).encode()
        return req("POST", path, role, b"Content-Type: application/json\r\n", body)

    def form(fields, boundary=b"fzb"):
        out = b""
        for name, value, filename in fields:
            out += b"--" + boundary + b"\r\n"
            out += b'Content-Disposition: form-data; name="' + name + b'"'
            if filename:
                out += b'; filename="' + filename + b'"\r\nContent-Type: image/jpeg'
            out += b"\r\n\r\n" + value + b"\r\n"
        return out + b"--" + boundary + b"--\r\n"

    def form_req(path, role, fields, boundary=b"fzb", declared=None):
        ct = b"Content-Type: multipart/form-data; boundary=" + (declared or boundary) + b"\r\n"
        return req("POST", path, role, ct, form(fields, boundary))

    def chunked(data, size=97):
        out = b""
        for i in range(0, len(data), size):
            piece = data[i:i + size]
            out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        return out + b"0\r\n\r\n"

    photo = (b"photo", jpg, b"probe.jpg")
    search = [photo, (b"reason", b"case 114: lost child", None),
              (b"since", b"2026-04-12T07:00Z", None), (b"until", b"2026-04-12T12:00Z", None),
              (b"camera", b"km05", None), (b"possible", b"1", None), (b"confirm", b"1,2", None)]
    seeds = {
        "page_get": req("GET", "/"),
        "page_head_index": req("HEAD", "/index.html"),
        "status": req("GET", "/api/v1/status"),
        "status_viewer": req("GET", "/api/v1/status", "viewer"),
        "status_bad_token": req("GET", "/api/v1/status", None,
                                b"Authorization: Bearer not-a-token-of-this-server\r\n"),
        "cameras_get_admin": req("GET", "/api/v1/cameras", "admin"),
        "cameras_post": json_req("/api/v1/cameras", "admin",
                                 {"id": "km10", "km": 10.5, "name": "gate"}),
        "cameras_post_url": json_req("/api/v1/cameras", None,
                                     {"id": "km12", "km": 12, "url": "rtsp://127.0.0.1:9/cam"}),
        "cameras_post_viewer": json_req("/api/v1/cameras", "viewer", {"id": "km05", "km": 5}),
        "cameras_delete": req("DELETE", "/api/v1/cameras/km12", "admin"),
        "cameras_live_stop": json_req("/api/v1/cameras", None,
                                      {"id": "km14", "km": 14, "url": "rtsp://127.0.0.1:9/c"})
        + req("DELETE", "/api/v1/cameras/km14", None, b"Connection: close\r\n"),
        "search": form_req("/api/v1/search", "operator", search),
        "search_runner": form_req("/api/v1/search", "runner", search[:2]),
        "search_chunked": req("POST", "/api/v1/search", None,
                              b"Content-Type: multipart/form-data; boundary=fzb\r\n"
                              b"Transfer-Encoding: chunked\r\n", chunked(form(search))),
        "search_bad_boundary": form_req("/api/v1/search", "operator", search[:2],
                                        boundary=b"fzb", declared=b"other"),
        "search_urlencoded": req("POST", "/api/v1/search", None,
                                 b"Content-Type: application/x-www-form-urlencoded\r\n",
                                 b"reason=case+7&since=2026-04-12T07%3A00Z&photo=%FF%D8%FF"),
        "search_json": json_req("/api/v1/search", "operator", {"reason": "case 1"}),
        "selfie": form_req("/api/v1/selfie", "runner", [photo]),
        "watchlist_get": req("GET", "/api/v1/watchlist", "operator"),
        "watchlist_post": form_req("/api/v1/watchlist", None,
                                   [photo, (b"name", b"runner 7", None),
                                    (b"reason", b"case 9: missing", None),
                                    (b"expires", b"2026-04-13T00:00Z", None),
                                    (b"webhook", b"http://127.0.0.1:9/hook", None)]),
        "watchlist_delete": req("DELETE", "/api/v1/watchlist/1", "operator"),
        "watchlist_dismiss": json_req("/api/v1/watchlist/1/dismiss", "operator", {"sighting": 2}),
        "watchlist_accept": json_req("/api/v1/watchlist/1/accept", None, {"track": "km05/1"}),
        "watchlist_accept_sighting": json_req("/api/v1/watchlist/1/accept", "operator",
                                              {"sighting": 1}),
        "alerts": req("GET", "/api/v1/alerts", "operator"),
        "alert_thumbnail": req("GET", "/api/v1/alerts/0/thumbnail", "operator"),
        "sighting_thumbnail": req("GET", "/api/v1/sightings/1/thumbnail", None),
        "audit": req("GET", "/api/v1/audit?since=2026-04-12T00:00Z", "admin"),
        "purge_before": json_req("/api/v1/purge", "admin", {"before": "2026-04-12T08:00:00.5Z"}),
        "purge_keep_days": json_req("/api/v1/purge", None, {"keep_days": 30}),
        "not_found": req("GET", "/api/v1/nothing/here"),
        "method_not_allowed": req("PUT", "/api/v1/watchlist", "operator"),
        "pipelined": req("GET", "/api/v1/status") + req("GET", "/api/v1/cameras", None,
                                                         b"Connection: close\r\n"),
    }
    for name, data in seeds.items():
        put("http", name, data)


onnx_seeds()
dlib_seeds()
manifest_seeds()
image_seeds()
text_seeds()
store_seeds()
http_seeds()
