#!/usr/bin/python3
"""tests/ref/yunet_ref.py: the test oracle for detect/yunet.c (tests/unit/test_yunet.c).

Runs a YuNet ONNX file on an image with OpenCV's dnn module (Debian's
python3-opencv), and decodes its raw outputs here, independently of the C code,
following the upstream head (libfacedetection.train, yunet_head.py): priors
(col*s, row*s) with stride s, centre = d*s + prior, size = exp(d)*s, landmarks
= k*s + prior, score = cls*obj (the graph applies the sigmoid), then greedy NMS
in score order (ties in candidate order) over the top_k best.

usage: yunet_ref.py MODEL IMAGE OUT [--size WxH] [--score S] [--nms T] [--topk K]

The image is read with cv2.imread (BGR) and padded bottom/right with zeros to
WxH (default: each side rounded up to a multiple of 32), then turned into the
blob with cv2.dnn.blobFromImage's defaults (scale 1, no mean, no channel swap).

OUT (little-endian binary):
  b'YNRF', int32 12, then for each output in the order cls_8 cls_16 cls_32
  obj_8 obj_16 obj_32 bbox_8 bbox_16 bbox_32 kps_8 kps_16 kps_32:
  int32 rows, int32 cols, int32 channels, float32[rows*cols*channels];
  then int32 n and n rows of 15 float64: x y w h score, 5 x (lm_x, lm_y).
Prints '# opencv_ms T' (one forward). Exit status 77 when cv2 is missing.
"""
import struct
import sys
import time

try:
    import cv2
    import numpy as np
except ImportError as e:  # the C test skips on 77
    sys.stderr.write('yunet_ref.py: %s\n' % e)
    sys.exit(77)

NAMES = ['cls_8', 'cls_16', 'cls_32', 'obj_8', 'obj_16', 'obj_32',
         'bbox_8', 'bbox_16', 'bbox_32', 'kps_8', 'kps_16', 'kps_32']
STRIDES = [8, 16, 32]
CHANNELS = [1, 1, 4, 10]


def round_up(v, m):
    return -(-v // m) * m


def decode(outs, pad_w, pad_h, score_thr, nms_thr, top_k):
    """Boxes as (x1, y1, x2, y2) while deciding, reported as (x, y, w, h)."""
    cands = []  # (score, x1, y1, x2, y2, kps[10])
    for li, s in enumerate(STRIDES):
        cols, rows = pad_w // s, pad_h // s
        cls = outs[li].reshape(rows * cols).astype(np.float64)
        obj = outs[3 + li].reshape(rows * cols).astype(np.float64)
        bbox = outs[6 + li].reshape(rows * cols, 4).astype(np.float64)
        kps = outs[9 + li].reshape(rows * cols, 10).astype(np.float64)
        yy, xx = np.mgrid[0:rows, 0:cols]
        prior = np.stack([xx.reshape(-1) * s, yy.reshape(-1) * s], axis=1).astype(np.float64)
        score = cls * obj
        centre = bbox[:, :2] * s + prior
        size = np.exp(bbox[:, 2:]) * s
        marks = kps.reshape(-1, 5, 2) * s + prior[:, None, :]
        for i in np.nonzero(score >= score_thr)[0]:
            x1, y1 = centre[i] - size[i] / 2
            x2, y2 = centre[i] + size[i] / 2
            cands.append((score[i], x1, y1, x2, y2, marks[i].reshape(10)))
    order = sorted(range(len(cands)), key=lambda k: -cands[k][0])  # stable: ties keep order
    if top_k > 0:
        order = order[:top_k]
    kept = []
    for k in order:
        _, x1, y1, x2, y2, _ = cands[k]
        suppressed = False
        for j in kept:
            _, a1, b1, a2, b2, _ = cands[j]
            iw = min(x2, a2) - max(x1, a1)
            ih = min(y2, b2) - max(y1, b1)
            inter = iw * ih if iw > 0 and ih > 0 else 0.0
            union = (x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - inter
            if union > 0 and inter / union > nms_thr:
                suppressed = True
                break
        if not suppressed:
            kept.append(k)
    rows = []
    for k in kept:
        score, x1, y1, x2, y2, marks = cands[k]
        rows.append([x1, y1, x2 - x1, y2 - y1, score] + list(marks))
    return rows


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    model, image, out_path = argv[1:4]
    size, score_thr, nms_thr, top_k = None, 0.5, 0.45, 5000
    i = 4
    while i < len(argv):
        if argv[i] == '--size':
            size = tuple(int(v) for v in argv[i + 1].split('x'))
        elif argv[i] == '--score':
            score_thr = float(argv[i + 1])
        elif argv[i] == '--nms':
            nms_thr = float(argv[i + 1])
        elif argv[i] == '--topk':
            top_k = int(argv[i + 1])
        else:
            sys.stderr.write('unknown option %s\n' % argv[i])
            return 2
        i += 2
    img = cv2.imread(image, cv2.IMREAD_COLOR)
    if img is None:
        sys.stderr.write('cannot read %s\n' % image)
        return 1
    h, w = img.shape[:2]
    pad_w, pad_h = size if size else (round_up(w, 32), round_up(h, 32))
    padded = cv2.copyMakeBorder(img, 0, pad_h - h, 0, pad_w - w, cv2.BORDER_CONSTANT, value=0)
    blob = cv2.dnn.blobFromImage(padded)
    net = cv2.dnn.readNetFromONNX(model)
    net.setInput(blob)
    t0 = time.perf_counter()
    outs = net.forward(NAMES)
    ms = (time.perf_counter() - t0) * 1e3
    with open(out_path, 'wb') as f:
        f.write(b'YNRF' + struct.pack('<i', len(NAMES)))
        for k, o in enumerate(outs):
            s, c = STRIDES[k % 3], CHANNELS[k // 3]
            rows, cols = pad_h // s, pad_w // s
            a = np.ascontiguousarray(o, dtype='<f4').reshape(-1)
            if a.size != rows * cols * c:
                sys.stderr.write('%s has %d values, expected %d\n' % (NAMES[k], a.size,
                                                                       rows * cols * c))
                return 1
            f.write(struct.pack('<iii', rows, cols, c))
            f.write(a.tobytes())
        dets = decode(outs, pad_w, pad_h, score_thr, nms_thr, top_k)
        f.write(struct.pack('<i', len(dets)))
        for d in dets:
            f.write(struct.pack('<15d', *d))
    print('# opencv_ms %.3f' % ms)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
