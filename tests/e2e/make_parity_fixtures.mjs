// Makes the small committed parity fixtures in tests/data/parity from the
// reference peer's decoded samples: lossless PNGs (box-filter downscales and a
// crop of face-api's sample photos), so that facetrail and the peer see the
// same pixels, plus the peer's outputs for them.
//
//   node tests/e2e/make_parity_fixtures.mjs PEER_DIR DECODED_DIR OUT_DIR
//
// PEER_DIR is a set-up copy of the reference peer (npm ci done); DECODED_DIR
// holds sample1..6.png written by `faceapi-dump.mjs --save-decoded`.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const [peer, decoded, out] = process.argv.slice(2);
if (!peer || !decoded || !out) {
  process.stderr.write('usage: node make_parity_fixtures.mjs PEER_DIR DECODED_DIR OUT_DIR\n');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(peer), 'package.json'));
const { PNG } = require('pngjs');

const readPng = (f) => PNG.sync.read(fs.readFileSync(f));
function writeRgbPng(file, w, h, rgb) {
  const png = new PNG({ width: w, height: h, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(rgb);
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
}
// box-filter downscale by an integer factor (RGBA in, RGB out)
function downscale(img, f) {
  const w = Math.floor(img.width / f), h = Math.floor(img.height / f);
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
    let s = 0;
    for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) s += img.data[((y * f + dy) * img.width + x * f + dx) * 4 + c];
    rgb[(y * w + x) * 3 + c] = Math.round(s / (f * f));
  }
  return { width: w, height: h, rgb };
}
function crop(img, x0, y0, w, h) {
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) rgb[(y * w + x) * 3 + c] = img.rgb[((y0 + y) * img.width + x0 + x) * 3 + c];
  return { width: w, height: h, rgb };
}

fs.mkdirSync(path.join(out, 'chips'), { recursive: true });
const made = [];
for (const s of ['sample1', 'sample4', 'sample6']) {
  const small = downscale(readPng(path.join(decoded, `${s}.png`)), 4);
  const file = path.join(out, `${s}_q.png`);
  writeRgbPng(file, small.width, small.height, small.rgb);
  made.push(file);
}
// exactly 512 wide: the detector input needs no resize (the copy path)
{
  const third = downscale(readPng(path.join(decoded, 'sample5.png')), 3);
  const c = crop(third, 60, 40, 512, 384);
  const file = path.join(out, 'sample5_crop512.png');
  writeRgbPng(file, c.width, c.height, c.rgb);
  made.push(file);
}
const dump = (args) => execFileSync('node', [path.join(peer, 'faceapi-dump.mjs'), ...args], { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
const rel = (t) => t.split('\n').filter(Boolean).map((l) => { const o = JSON.parse(l); o.file = path.basename(o.file); return JSON.stringify(o); }).join('\n') + '\n';
fs.writeFileSync(path.join(out, 'ssd.jsonl'), rel(dump(made)));
fs.writeFileSync(path.join(out, 'tiny.jsonl'), rel(dump(['--detector', 'tiny', '--input-size', '416', ...made])));
fs.writeFileSync(path.join(out, 'tinylm.jsonl'), rel(dump(['--tiny-landmarks', ...made])));
// four recognition chips (rounded to uint8 PNG by the peer) and their descriptors
const tmp = fs.mkdtempSync('/tmp/ftchips-');
dump(['--save-chips', tmp, made[0], made[3]]);
const chips = fs.readdirSync(tmp).filter((f) => f.endsWith('.png')).sort().slice(0, 4);
for (const c of chips) fs.copyFileSync(path.join(tmp, c), path.join(out, 'chips', c));
fs.writeFileSync(path.join(out, 'chips.jsonl'), rel(dump(['--raw-chip', ...chips.map((c) => path.join(out, 'chips', c))])));
fs.rmSync(tmp, { recursive: true });
process.stderr.write(`wrote ${made.length} images, ${chips.length} chips and the peer's outputs to ${out}\n`);
