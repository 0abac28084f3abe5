// The deployment recipes of docs/deploying.md, run: each server is started as the guide
// configures it, serving the Vite example (examples/vite), and the system's Chromium opens
// the page through it. A server passes when the page is cross-origin isolated, its workers
// factor every number right, every same-origin response carries the three isolation headers
// and the wasm module comes as application/wasm.
//
//   node tests/puppeteer/servers.mjs <chromium> [name ...]
//
// Servers: `vite-dev` and `vite-preview` (examples/vite/vite.config.js), `nginx` and `caddy`
// (the guide's nginx and Caddy blocks, taken from docs/deploying.md verbatim; only the
// listening address and the served folder are put in). examples/vite/dist must be built and
// the package installed into examples/vite first (`cargo atelier test examples` does both).
// Prints `ok   <server>: …` or `FAIL <server>: …` per server; exits 1 if one failed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const example = join(root, 'examples/vite');
const dist = join(example, 'dist');
const [chromium, ...only] = process.argv.slice(2);
if (!chromium) {
  console.error('usage: node tests/puppeteer/servers.mjs <chromium> [vite-dev|vite-preview|nginx|caddy ...]');
  process.exit(2);
}

const HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

/** The code block of `lang` that follows the heading `## title` in docs/deploying.md. */
function recipe(title, lang) {
  const doc = readFileSync(join(root, 'docs/deploying.md'), 'utf8');
  const at = doc.indexOf(`\n## ${title}\n`);
  if (at < 0) throw new Error(`docs/deploying.md has no "## ${title}" section`);
  const block = doc.slice(at).match(new RegExp('```' + lang + '\\n([\\s\\S]*?)```'));
  if (!block) throw new Error(`docs/deploying.md's "## ${title}" section has no \`\`\`${lang} block`);
  return block[1];
}

/** `text` with `from` replaced by `to`; throws when the guide's block no longer has `from`. */
function put(text, from, to, where) {
  if (!text.includes(from)) throw new Error(`${where} no longer contains ${JSON.stringify(from)}; update tests/puppeteer/servers.mjs with it`);
  return text.replace(from, to);
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** The path of `program` on PATH, else at Debian's `fallback` (sbin is not on every PATH), else null. */
function which(program, fallback) {
  const r = spawnSync('sh', ['-c', `command -v ${program} || command -v ${fallback}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The guide's Vite block must be the example's configuration, which the two Vite servers run. */
function viteConfig() {
  const block = recipe('Vite', 'js');
  const config = readFileSync(join(example, 'vite.config.js'), 'utf8');
  if (!config.includes(block)) throw new Error("docs/deploying.md's Vite block is not in examples/vite/vite.config.js verbatim: copy the configuration into the guide again");
}

const servers = {
  'vite-dev': (port) => (viteConfig(), {
    cmd: process.execPath,
    args: [join(example, 'node_modules/vite/bin/vite.js'), '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    cwd: example,
  }),
  'vite-preview': (port) => (viteConfig(), {
    cmd: process.execPath,
    args: [join(example, 'node_modules/vite/bin/vite.js'), 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    cwd: example,
  }),
  nginx: (port, dir) => {
    const nginx = which('nginx', '/usr/sbin/nginx');
    if (!nginx) throw new Error('nginx is not installed (`cargo atelier setup` installs Debian\'s nginx)');
    let block = recipe('nginx', 'nginx');
    block = put(block, 'listen 80;', `listen 127.0.0.1:${port};`, "the guide's nginx block");
    block = put(block, 'root /srv/app;', `root ${dist};`, "the guide's nginx block");
    for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
    const conf = `# Written by tests/puppeteer/servers.mjs around the guide's block.
daemon off;
${process.getuid && process.getuid() === 0 ? `# Run as root, nginx's workers would take the user nobody, who may not read the checkout.
user ${userInfo().username};
` : ''}pid ${dir}/nginx.pid;
error_log stderr warn;
events {}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
${block}}
`;
    writeFileSync(join(dir, 'nginx.conf'), conf);
    return { cmd: nginx, args: ['-p', dir, '-c', join(dir, 'nginx.conf')], cwd: dir };
  },
  caddy: (port, dir) => {
    const caddy = which('caddy', '/usr/bin/caddy');
    if (!caddy) throw new Error('caddy is not installed (`cargo atelier setup` installs Debian\'s caddy)');
    let block = recipe('Caddy', 'caddy');
    block = put(block, 'example.com {', `http://127.0.0.1:${port} {`, "the guide's Caddy block");
    block = put(block, 'root * /srv/app', `root * ${dist}`, "the guide's Caddy block");
    // The admin endpoint would listen on :2019, which another run may hold.
    writeFileSync(join(dir, 'Caddyfile'), `{\n\tadmin off\n}\n\n${block}`);
    return {
      cmd: caddy,
      args: ['run', '--adapter', 'caddyfile', '--config', join(dir, 'Caddyfile')],
      cwd: dir,
      env: { HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    };
  },
};

/** Waits until `port` accepts connections, or the server exits, or `ms` pass. */
async function listening(port, child, output, ms = 20_000) {
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) before it listened:\n${output.join('')}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      await r.arrayBuffer();
      return;
    } catch {
      // not yet
    }
    if (Date.now() - t0 > ms) throw new Error(`nothing listens on port ${port} after ${ms} ms:\n${output.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Opens the example through the server at `port`; returns a line saying what it saw. */
async function check(port) {
  const profile = mkdtempSync(join(tmpdir(), 'atelier-chromium-servers-'));
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage();
    const origin = `http://127.0.0.1:${port}`;
    const responses = [];
    page.on('response', (r) => {
      if (r.url().startsWith(origin)) responses.push({ url: r.url().slice(origin.length), status: r.status(), headers: r.headers() });
    });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e.message ?? e)));
    const first = await page.goto(`${origin}/`, { waitUntil: 'load' });
    if (!first || first.status() !== 200) throw new Error(`the page came back ${first ? first.status() : 'without a response'}`);
    try {
      await page.waitForFunction(() => document.body && document.body.dataset.result, { timeout: 30_000, polling: 50 });
    } catch {
      const status = await page.$eval('#status', (el) => el.textContent).catch(() => '(no page)');
      throw new Error(`the page put no result within 30 s; its status: ${status}; page errors: ${errors.join(' | ') || 'none'}`);
    }
    const result = JSON.parse(await page.evaluate(() => document.body.dataset.result));
    const isolated = await page.evaluate(() => self.crossOriginIsolated);
    const problems = [];
    if (!isolated) problems.push('the page is not cross-origin isolated');
    if (result.right !== result.numbers) problems.push(`${result.right} of ${result.numbers} answers match`);
    // Every response the page, its modules and its workers got from the server.
    await new Promise((r) => setTimeout(r, 100));
    let checked = 0;
    const carries = (r) => Object.entries(HEADERS).every(([name, value]) => r.headers[name] === value);
    for (const r of responses) {
      // The browser's own favicon request: nothing the page loads; Vite answers it 404 bare.
      if (r.url === '/favicon.ico') continue;
      // A 304 (Vite revalidates a worker script the second worker fetches) is merged with
      // the cached 200, whose headers are what counts: that one must carry them.
      if (r.status === 304) {
        if (!responses.some((o) => o.url === r.url && o.status === 200 && carries(o))) problems.push(`${r.url} came back 304 with no 200 carrying the headers before it`);
        continue;
      }
      checked += 1;
      for (const [name, value] of Object.entries(HEADERS)) {
        if (r.headers[name] !== value) problems.push(`${r.url} (${r.status}) has ${name}: ${r.headers[name] ?? '(none)'}`);
      }
    }
    const wasm = responses.filter((r) => r.url.split('?')[0].endsWith('.wasm'));
    if (wasm.length === 0) problems.push('no .wasm response was seen');
    for (const r of wasm) {
      if (!(r.headers['content-type'] ?? '').startsWith('application/wasm')) problems.push(`${r.url} comes as ${r.headers['content-type'] ?? '(no type)'}, not application/wasm`);
    }
    const workerScripts = responses.filter((r) => /worker/.test(r.url));
    if (workerScripts.length === 0) problems.push("no worker script's response was seen");
    if (problems.length) throw new Error(problems.join('; '));
    return `isolated; ${result.right} of ${result.numbers} answers right; ${checked} responses carry the headers (the wasm as application/wasm, ${workerScripts.length} worker script(s))`;
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

let failed = 0;
for (const name of Object.keys(servers)) {
  if (only.length && !only.includes(name)) continue;
  const dir = mkdtempSync(join(tmpdir(), `atelier-${name}-`));
  let child;
  const output = [];
  try {
    const port = await freePort();
    const { cmd, args, cwd, env } = servers[name](port, dir);
    child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => output.push(String(d)));
    child.stderr.on('data', (d) => output.push(String(d)));
    await listening(port, child, output);
    console.log(`ok   ${name}: ${await check(port)}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e.message}`);
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => { child.kill('SIGKILL'); r(); }, 3000);
        child.once('exit', () => { clearTimeout(t); r(); });
      });
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
process.exit(failed ? 1 : 0);
