// Prints the side-by-side table of bench/run.sh: peer ms, facetrail ms with 1
// and 2 threads, the speed-up ratios, and facetrail's GFLOP/s against the
// machine's peak. The frame rows (YuNet and SSD on the 1920x1080 frame) are
// set beside the peer's SSD 512 on the same frame (PEER_FRAME.json, its
// detect_ssd stage); the rows of the default pipeline's parts have no peer.
//   node bench/ratios.mjs PEER.json FT_T1.json FT_T2.json [PEER_FRAME.json]
import fs from 'node:fs';
import os from 'node:os';

const [peerFile, t1File, t2File, peerFrameFile] = process.argv.slice(2);
const peer = JSON.parse(fs.readFileSync(peerFile, 'utf8'));
const t1 = JSON.parse(fs.readFileSync(t1File, 'utf8'));
const t2 = JSON.parse(fs.readFileSync(t2File, 'utf8'));
const PEAK_PER_CORE = Number(process.env.FT_PEAK_GFLOPS || 146); // AVX-512 FMA, fp32
const by = (list, key) => Object.fromEntries(list.map((r) => [r[key], r]));
const p = by(peer.results, 'stage'), a = by(t1.results, 'stage'), b = by(t2.results, 'stage');
if (peerFrameFile) {
  const pf = by(JSON.parse(fs.readFileSync(peerFrameFile, 'utf8')).results, 'stage');
  if (pf.detect_ssd) p.yunet_frame = p.ssd_frame = pf.detect_ssd;
}
const goals = { detect_ssd: 5, detect_ssd_net: 5, descriptor: 5, landmarks: 4, detect_tiny: 4, detect_tiny_net: 4, yunet_frame: 5 };
const f = (x, d = 2) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} cpus; peer ${peer.versions['face-api']} wasm ${peer.wasmBinary}`);
if (t1.frame && t1.frame.file) {
  console.log(`frame: ${t1.frame.file} (${t1.frame.width}x${t1.frame.height}, ${t1.frame.faces} faces in the default pipeline); `
    + `yunet_frame and ssd_frame beside the peer's SSD 512 on the same frame; goal for yunet_frame also <= 60 ms (1T)`);
}
console.log('stage                  unit   peer ms   ft 1T ms  ft 2T ms  x(1T)  x(2T)  goal   GFLOP/s 1T (% peak)  2T (% of 2 cores)');
for (const s of Object.keys(a)) {
  const pm = p[s] ? p[s].median_ms : NaN;
  const r1 = pm / a[s].median_ms, r2 = pm / b[s].median_ms;
  const g1 = a[s].gflops, g2 = b[s].gflops;
  console.log(`${s.padEnd(22)} ${a[s].unit.padEnd(6)} ${f(pm).padStart(8)} ${f(a[s].median_ms, 3).padStart(9)} ${f(b[s].median_ms, 3).padStart(9)} `
    + `${f(r1, 1).padStart(6)} ${f(r2, 1).padStart(6)}  ${goals[s] ? `>=${goals[s]}` : '  -'}   `
    + `${f(g1, 1).padStart(6)} (${f(100 * g1 / PEAK_PER_CORE, 0)}%)       ${f(g2, 1).padStart(6)} (${f(100 * g2 / (2 * PEAK_PER_CORE), 0)}%)`);
}
