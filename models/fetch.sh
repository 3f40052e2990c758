#!/bin/sh
# Fetches the pretrained face-api models (npm package @vladmandic/face-api, MIT)
# at a pinned version, checks the tarball against the pinned SHA-512, and
# unpacks model/ and demo/ into models/face-api/ (ignored by git).
# Idempotent: does nothing when the models are already in place and verified;
# unpacked files that no longer match face-api-$VERSION.sha256 (the SHA-256 of
# each file, the same pins the library checks at load, src/nn/model.c) are
# unpacked again from the tarball.
# Offline or a hash mismatch: a clear error and a non-zero exit.
set -eu
cd "$(dirname "$0")"
PKG=@vladmandic/face-api
VERSION=1.7.15
SHA512=5833262b709f34ba3c8f2956a8ca1081fe2722cb773347f3c7576769cf7ac2ffddbcc4cde03c42fcfab50c6b5db83935964b426a64373080d7167beb7474d70f
TGZ=vladmandic-face-api-$VERSION.tgz
DEST=face-api
FILES=face-api-$VERSION.sha256

if [ -f "$DEST/.verified-$VERSION" ]; then
    if sha256sum --quiet --strict -c "$FILES" >/dev/null 2>&1; then
        exit 0
    fi
    echo "models/fetch.sh: files in models/$DEST/model differ from $PKG@$VERSION (damaged?): unpacking them again" >&2
    rm -f "$DEST/.verified-$VERSION"
fi
if [ ! -f "$TGZ" ]; then
    command -v npm >/dev/null 2>&1 || { echo "models/fetch.sh: npm not found (apt-get install npm, or run 'make deps')" >&2; exit 1; }
    echo "fetching $PKG@$VERSION from the npm registry ..." >&2
    if ! npm pack "$PKG@$VERSION" --silent >/dev/null 2>npm-pack.log; then
        echo "models/fetch.sh: 'npm pack $PKG@$VERSION' failed (offline?):" >&2
        sed 's/^/  /' npm-pack.log >&2
        rm -f npm-pack.log
        exit 1
    fi
    rm -f npm-pack.log
fi
got=$(sha512sum "$TGZ" | cut -d' ' -f1)
if [ "$got" != "$SHA512" ]; then
    echo "models/fetch.sh: $TGZ has SHA-512 $got, expected $SHA512: refusing to use it" >&2
    mv -f "$TGZ" "$TGZ.bad"
    exit 1
fi
rm -rf "$DEST.tmp" && mkdir -p "$DEST.tmp"
tar -xzf "$TGZ" -C "$DEST.tmp" package/model package/demo package/LICENSE
rm -rf "$DEST" && mv "$DEST.tmp/package" "$DEST" && rmdir "$DEST.tmp"
if ! sha256sum --quiet --strict -c "$FILES" >&2; then
    echo "models/fetch.sh: the files unpacked from $TGZ do not match $FILES" >&2
    exit 1
fi
touch "$DEST/.verified-$VERSION"
echo "models ready in models/$DEST/model" >&2
