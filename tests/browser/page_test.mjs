// tests/browser/page_test.mjs: the operator's page (tools/ui.c) in a real
// browser, for tests/e2e/browser.sh. playwright-core drives a headless
// chromium that is already installed (FT_CHROMIUM, Debian's /usr/bin/chromium);
// nothing is downloaded.
//
//   FT_BASE=http://127.0.0.1:PORT FT_CHROMIUM=/usr/bin/chromium FT_OUT=DIR \
//   SEARCH_PHOTO=... SEARCH_CAMERA=... SEARCH_KM=... WATCH_PHOTO=... \
//   WATCH_CAMERA=... WATCH_KM=... WATCH_URL=... LIVE_URL=... \
//   node tests/browser/page_test.mjs
//
// The served event has its cameras, SEARCH_CAMERA ingested (SEARCH_PHOTO's
// person passes it) and WATCH_CAMERA not yet (WATCH_PHOTO's person passes
// it; WATCH_URL, its clip, is played to the server as a live camera).
// On a desktop-sized page: the page loads without a script error; the
// cameras are listed with their state; a search with SEARCH_PHOTO through
// the file input shows SEARCH_CAMERA at SEARCH_KM on the timeline, every
// thumbnail loaded; a camera "gate" added with LIVE_URL (POST
// /api/v1/cameras: the page has no control for it) shows its live state; a
// watchlist entry added through the page's form, then WATCH_CAMERA added
// live with WATCH_URL: the alert arrives in the page's feed (the event
// stream) with its thumbnail, raised while the person is in view or from
// the stored sighting; once the alert names its sighting, "not this
// person" dismisses it (the server answers 200 with the sighting). Then at a phone's 390x844: the photo control is visible, a
// search shows its timeline, and nothing is wider than the screen.
// Prints "ok - ..." / "not ok - ..." per check (tests/e2e/browser.sh numbers
// them), "# ..." notes, and "dismissed WATCH SIGHTING" for the shell to look
// up; a failed check saves a screenshot in FT_OUT and prints its path.
import { chromium } from 'playwright-core';

const env = (k) => {
    const v = process.env[k];
    if (!v) throw new Error(`${k} is not set`);
    return v;
};
const BASE = env('FT_BASE'), OUT = env('FT_OUT');
const SEARCH_PHOTO = env('SEARCH_PHOTO'), SEARCH_CAMERA = env('SEARCH_CAMERA');
const SEARCH_KM = Number(env('SEARCH_KM'));
const WATCH_PHOTO = env('WATCH_PHOTO'), WATCH_CAMERA = env('WATCH_CAMERA');
const WATCH_KM = Number(env('WATCH_KM')), WATCH_URL = env('WATCH_URL'), LIVE_URL = env('LIVE_URL');
const LIVE_CAM = 'gate';
const SLOW = 90000; // a search under the sanitizers on a busy machine
const INGEST_S = 120; // the watched camera's clip played live, likewise

let failed = 0, shots = 0;
async function check(page, ok, what) {
    console.log(`${ok ? 'ok' : 'not ok'} - ${what}`);
    if (ok) return true;
    failed++;
    if (page) {
        const path = `${OUT}/browser-fail-${++shots}.png`;
        try {
            await page.screenshot({ path, fullPage: true });
            console.log(`# screenshot: ${path}`);
        } catch (e) {
            console.log(`# no screenshot: ${e.message.split('\n')[0]}`);
        }
    }
    return false;
}
// step(page, what, fn): fn returns [ok, detail]; a throw (a timeout) fails it
async function step(page, what, fn) {
    let ok = false, detail = '';
    try {
        [ok, detail] = await fn();
    } catch (e) {
        detail = e.message.split('\n')[0];
    }
    return check(page, ok, detail ? `${what} (${detail})` : what);
}
const thumbsLoaded = (page, sel) =>
    page.waitForFunction(
        (s) => {
            const imgs = [...document.querySelectorAll(s)];
            return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
        },
        sel,
        { timeout: 30000 });
function watchErrors(page, errors) {
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`);
    });
}
async function searchFor(page, photo) {
    await page.setInputFiles('#photo', photo);
    await page.fill('#reason', 'case 7: lost at the start');
    await page.click('#go');
    await page.waitForSelector('#apps .app, #out .err', { timeout: SLOW });
    const err = await page.$('#out .err');
    if (err) throw new Error(`the page says: ${await err.textContent()}`);
    return page.$$eval('#apps .app', (ds) => ds.map((d) => d.innerText.replace(/\s+/g, ' ')));
}

const browser = await chromium.launch({
    executablePath: process.env.FT_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // CI runs as root, where chromium's sandbox cannot start
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: 60000,
});
try {
    // -- a desktop ---------------------------------------------------------------
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(30000);
    const errors = [];
    watchErrors(page, errors);
    await step(page, 'the page loads: its title and the photo control', async () => {
        const r = await page.goto(BASE + '/');
        return [r.ok() && (await page.title()) === 'facetrail' && (await page.isVisible('#photo')),
            `HTTP ${r.status()}`];
    });
    await step(page, 'the cameras are listed, each with its state (recorded: not live)', async () => {
        await page.waitForFunction(() => document.querySelectorAll('#cams .cam').length >= 2);
        const cams = await page.$$eval('#cams .cam', (ds) => ds.map((d) => [d.dataset.camera, d.textContent]));
        return [cams.some(([id]) => id === SEARCH_CAMERA) && cams.some(([id]) => id === WATCH_CAMERA)
            && cams.every(([, t]) => t.includes('recorded')), cams.map(([, t]) => t).join('; ')];
    });
    await step(page, `a search with a photo through the file input: ${SEARCH_CAMERA} on the timeline`, async () => {
        const apps = await searchFor(page, SEARCH_PHOTO);
        const km = `km ${SEARCH_KM.toFixed(2)}`;
        return [apps.some((t) => t.includes(SEARCH_CAMERA) && t.includes(km)),
            `${apps.length} appearances: ${apps.map((t) => t.slice(0, 70)).join(' | ')}`];
    });
    await step(page, 'the timeline\'s thumbnails load (naturalWidth > 0)', async () => {
        await thumbsLoaded(page, '#apps .app img');
        const w = await page.$$eval('#apps .app img', (is) => is.map((i) => i.naturalWidth));
        return [w.length > 0 && w.every((x) => x > 0), `widths ${w.join(', ')}`];
    });
    await step(page, 'the course strip marks the camera that saw the person', async () => {
        const marks = await page.$$eval('#strip circle', (cs) => cs.map((c) => c.getAttribute('fill')));
        return [marks.length >= 2 && marks.includes('#d22'), `${marks.length} cameras on the strip`];
    });
    await step(page, `camera ${LIVE_CAM} ingested live: POST /api/v1/cameras with a url`, async () => {
        const r = await page.request.post(BASE + '/api/v1/cameras',
            { data: { id: LIVE_CAM, km: 0, url: LIVE_URL } });
        const j = await r.json();
        return [r.status() === 201 && j.live === true, `HTTP ${r.status()}`];
    });
    const camSel = `#cams .cam[data-camera="${LIVE_CAM}"]`;
    await step(page, 'the page shows the camera\'s live state (refreshed every 5 s)', async () => {
        await page.waitForFunction((s) => {
            const d = document.querySelector(s);
            return d && / [1-9][0-9]* frames/.test(d.textContent);
        }, camSel, { timeout: 20000 });
        const t = (await page.innerText(camSel)).replace(/\s+/g, ' ');
        return [/live: (starting|connected|lost|reconnecting|ended|stopped)/.test(t), t];
    });
    await step(page, 'the live camera stops: DELETE /api/v1/cameras/{id}', async () => {
        const r = await page.request.delete(`${BASE}/api/v1/cameras/${LIVE_CAM}`);
        return [r.status() === 200, `HTTP ${r.status()}`];
    });
    await step(page, 'the alert feed is connected (live)', async () => {
        await page.waitForFunction(() => document.getElementById('feed').textContent === '(live)');
        return [true, ''];
    });
    await step(page, 'a watchlist entry added through the page\'s form', async () => {
        await page.setInputFiles('#wphoto', WATCH_PHOTO);
        await page.fill('#wname', 'Runner W');
        await page.fill('#wreason', 'case 7: lost at the start');
        await page.click('#wgo');
        await page.waitForFunction(() => document.getElementById('wmsg').textContent !== '', null,
            { timeout: SLOW });
        const msg = await page.textContent('#wmsg');
        await page.waitForSelector('#wl .app', { timeout: 10000 });
        const wl = await page.textContent('#wl');
        return [msg === 'watching' && wl.includes('Runner W'), msg];
    });
    await step(page, `${WATCH_CAMERA} ingested live by the server (its clip played at real time)`, async () => {
        const r = await page.request.post(BASE + '/api/v1/cameras',
            { data: { id: WATCH_CAMERA, km: WATCH_KM, url: WATCH_URL } });
        return [r.status() === 201, `HTTP ${r.status()}`];
    });
    let sighting = null, watch = null, inView = false;
    await step(page, 'the alert arrives in the page\'s feed from the event stream', async () => {
        await page.waitForSelector('#alerts .alert', { timeout: INGEST_S * 1000 });
        const t = (await page.innerText('#alerts .alert')).replace(/\s+/g, ' ');
        inView = t.includes('(in view)');
        return [t.includes('Runner W') && t.includes(WATCH_CAMERA), t];
    });
    await step(page, 'the alert\'s thumbnail loads', async () => {
        await thumbsLoaded(page, '#alerts .alert img');
        return [true, inView ? 'raised while the camera still saw the person' : 'from the stored sighting'];
    });
    await step(page, 'the alert names its stored sighting (at once, or by the "sighting" event once the track ends)',
        async () => {
            await page.waitForFunction(() => {
                const d = document.querySelector('#alerts .alert');
                return d && /^[0-9]+$/.test(d.dataset.sighting) && !d.querySelector('.dismiss').disabled
                    && !d.querySelector('.inview');
            }, null, { timeout: INGEST_S * 1000 });
            sighting = await page.getAttribute('#alerts .alert', 'data-sighting');
            return [true, `sighting ${sighting}${inView ? ', linked after an early alert' : ''}`];
        });
    await step(page, '"accept" on the alert: 200 from the server, the alert stays, marked', async () => {
        const alert = page.locator(`#alerts .alert[data-sighting="${sighting}"]`).first();
        const [resp] = await Promise.all([
            page.waitForResponse((r) => r.url().endsWith('/accept'), { timeout: SLOW }),
            alert.locator('.accept').click(),
        ]);
        await alert.locator('.accept').waitFor({ state: 'detached', timeout: 10000 });
        return [resp.status() === 200, `HTTP ${resp.status()}`];
    });
    await step(page, '"not this person" dismisses the alert: 200 with the sighting, gone from the feed',
        async () => {
            const n = await page.locator('#alerts .alert').count();
            const alert = page.locator(`#alerts .alert[data-sighting="${sighting}"]`).first();
            const [resp] = await Promise.all([
                page.waitForResponse((r) => r.url().endsWith('/dismiss'), { timeout: SLOW }),
                alert.locator('.dismiss').click(),
            ]);
            const j = await resp.json();
            watch = j.id;
            await alert.waitFor({ state: 'detached', timeout: 10000 });
            const left = await page.locator('#alerts .alert').count();
            return [resp.status() === 200 && String(j.dismissed) === sighting && left === n - 1,
                `HTTP ${resp.status()}, sighting ${sighting}, ${n} alerts then ${left}`];
        });
    if (watch !== null) console.log(`dismissed ${watch} ${sighting}`);
    await step(page, 'the audit log holds the search (with its case reason), the entry, the accept and the dismissal',
        async () => {
            const r = await page.request.get(BASE + '/api/v1/audit');
            const j = await r.json();
            const acts = j.records.map((x) => x.action);
            const s = j.records.find((x) => x.action === 'search');
            return [r.status() === 200 && j.intact === true && s && s.reason === 'case 7: lost at the start'
                && acts.includes('watch_add') && acts.includes('alert_accept') && acts.includes('alert_dismiss'),
                acts.join(', ')];
        });
    await check(page, errors.length === 0, `no script error on the page${errors.length ? ': ' + errors.join(' | ') : ''}`);
    await ctx.close();

    // -- a phone -----------------------------------------------------------------
    const phone = await browser.newContext({
        viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true,
    });
    const pp = await phone.newPage();
    pp.setDefaultTimeout(30000);
    const perrors = [];
    watchErrors(pp, perrors);
    await pp.goto(BASE + '/');
    await step(pp, 'on a 390x844 phone: the photo control is visible, within the screen', async () => {
        const b = await pp.locator('#photo').boundingBox();
        return [(await pp.isVisible('#photo')) && b && b.x >= 0 && b.x + b.width <= 390,
            b ? `at x ${b.x.toFixed(0)}, ${b.width.toFixed(0)} wide` : 'no box'];
    });
    const overflow = () => pp.evaluate(() =>
        [document.documentElement.scrollWidth, window.innerWidth]);
    await step(pp, 'on the phone: no horizontal overflow', async () => {
        const [sw, iw] = await overflow();
        return [sw <= iw, `scrollWidth ${sw}, innerWidth ${iw}`];
    });
    await step(pp, 'on the phone: a search shows the timeline, still no horizontal overflow', async () => {
        const apps = await searchFor(pp, SEARCH_PHOTO);
        await thumbsLoaded(pp, '#apps .app img');
        await pp.waitForSelector('#strip circle');
        const [sw, iw] = await overflow();
        return [apps.some((t) => t.includes(SEARCH_CAMERA)) && sw <= iw,
            `${apps.length} appearances; scrollWidth ${sw}, innerWidth ${iw}`];
    });
    await check(pp, perrors.length === 0,
        `no script error on the phone${perrors.length ? ': ' + perrors.join(' | ') : ''}`);
    await phone.close();
} finally {
    await browser.close();
}
process.exit(failed ? 1 : 0);
