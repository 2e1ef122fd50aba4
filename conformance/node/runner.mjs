// Replays kimiproxy conformance jobs through the official `openai` npm package.
//
// Reads {"node_modules": DIR|null, "jobs": [job, ...]} as JSON on stdin (jobs as built by
// kimiproxy_conformance/jobs.py) and prints {"sdk_version", "results": {job_id: outcome}} on
// stdout, each outcome in the shape python_runner.py returns. When the package cannot be loaded
// it prints {"fatal": reason} instead, and the Python side reports the Node rows as SKIPPED.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// stdout carries the result JSON only; anything the SDK logs goes to stderr.
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MAX_MESSAGE = 2000;

async function readStdin() {
  const parts = [];
  for await (const part of process.stdin) parts.push(part);
  return Buffer.concat(parts).toString('utf8');
}

async function loadOpenAI(nodeModules) {
  // An explicit folder is the only place looked at; otherwise the runner's own folder.
  const bases = [path.join(nodeModules ? path.resolve(nodeModules) : HERE, 'noop.js')];
  const failures = [];
  for (const base of bases) {
    try {
      const resolved = createRequire(base).resolve('openai');
      const mod = await import(pathToFileURL(resolved).href);
      const OpenAI = mod.default ?? mod.OpenAI;
      let version = 'unknown';
      try {
        const pkg = path.join(path.dirname(resolved), 'package.json');
        version = JSON.parse(readFileSync(pkg, 'utf8')).version;
      } catch {
        // the version is only for the report
      }
      return { OpenAI, version };
    } catch (err) {
      failures.push(`${path.dirname(base)}: ${err.code ?? err.message}`);
    }
  }
  throw new Error(`cannot load the openai npm package (${failures.join('; ')})`);
}

function describeError(err) {
  const classes = [];
  for (let proto = Object.getPrototypeOf(err); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const name = proto.constructor?.name;
    if (name && name !== 'Error') classes.push(name);
  }
  // The Python SDK calls it APITimeoutError; scenarios use that name for both.
  if (classes.includes('APIConnectionTimeoutError')) classes.splice(1, 0, 'APITimeoutError');
  const body = err?.error;
  return {
    classes,
    status: typeof err?.status === 'number' ? err.status : null,
    message: String(err?.message ?? err).slice(0, MAX_MESSAGE),
    body_message: body && typeof body.message === 'string' ? body.message : null,
  };
}

function callChat(client, job, index) {
  const request = job.requests[index];
  const raw = job.raw_bodies[index];
  if (job.call === 'create' && raw == null) return client.chat.completions.create(request);
  if (raw != null) {
    return client.post(job.path, { body: raw, headers: { 'Content-Type': 'application/json' }, stream: job.stream });
  }
  return client.post(job.path, { body: request, stream: job.stream });
}

// Adds one streamed tool-call fragment to calls[index], as answers.py accumulate_tool_call does:
// the first id, type and function.name win; function.arguments strings are joined (a value that
// is not a string replaces them, so that the checks can see it).
function accumulateToolCall(calls, index, fragment) {
  const call = (calls[index] ??= { id: null, type: null, name: null, arguments: null });
  const fn = fragment?.function && typeof fragment.function === 'object' ? fragment.function : {};
  if (call.id == null && fragment?.id != null) call.id = fragment.id;
  if (call.type == null && fragment?.type != null) call.type = fragment.type;
  if (call.name == null && fn.name != null) call.name = fn.name;
  const piece = fn.arguments;
  if (piece == null) return;
  if (typeof piece === 'string' && (call.arguments == null || typeof call.arguments === 'string')) {
    call.arguments = (call.arguments ?? '') + piece;
  } else {
    call.arguments = piece;
  }
}

function sortedCalls(calls) {
  return Object.keys(calls).map(Number).sort((a, b) => a - b).map((i) => calls[i]);
}

function messageToolCalls(message) {
  const calls = Array.isArray(message?.tool_calls) ? message.tool_calls : [];
  return calls.map((call) => ({
    id: call?.id ?? null,
    type: call?.type ?? null,
    name: call?.function?.name ?? null,
    arguments: call?.function?.arguments ?? null,
  }));
}

async function readStream(stream, partial) {
  const out = { ok: true, finish_reason: null, role: null, chunks: 0, usage: null, extras: [] };
  const content = [];
  const reasoning = [];
  const calls = {};
  const known = new Set(['id', 'object', 'created', 'model', 'choices', 'usage', 'system_fingerprint', 'service_tier', 'obfuscation']);
  const extras = new Set();
  for await (const chunk of stream) {
    out.chunks += 1;
    if (chunk.usage != null) out.usage = chunk.usage;
    for (const key of Object.keys(chunk)) if (!known.has(key)) extras.add(key);
    for (const choice of chunk.choices ?? []) {
      if ((choice.index ?? 0) !== 0) continue;
      const delta = choice.delta ?? {};
      if (typeof delta.content === 'string' && delta.content) {
        content.push(delta.content);
        partial.content = content.join('');
      }
      if (typeof delta.reasoning_content === 'string') reasoning.push(delta.reasoning_content);
      if (Array.isArray(delta.tool_calls)) {
        for (const fragment of delta.tool_calls) {
          accumulateToolCall(calls, Number.isInteger(fragment?.index) ? fragment.index : 0, fragment);
        }
      }
      if (out.role == null && delta.role) out.role = delta.role;
      if (choice.finish_reason != null) out.finish_reason = choice.finish_reason;
    }
  }
  out.content = content.join('');
  out.reasoning = reasoning.join('') || null;
  out.tool_calls = sortedCalls(calls);
  out.extras = [...extras].sort();
  return out;
}

function readCompletion(completion) {
  const choice = completion.choices?.[0];
  const message = choice?.message;
  const known = new Set(['id', 'object', 'created', 'model', 'choices', 'usage', 'system_fingerprint', 'service_tier']);
  return {
    ok: true,
    content: message?.content ?? null,
    reasoning: typeof message?.reasoning_content === 'string' && message.reasoning_content ? message.reasoning_content : null,
    tool_calls: messageToolCalls(message),
    finish_reason: choice?.finish_reason ?? null,
    role: message?.role ?? null,
    usage: completion.usage ?? null,
    extras: Object.keys(completion).filter((k) => !known.has(k)).sort(),
  };
}

async function runOne(client, job, index) {
  const partial = { content: '' };
  try {
    if (job.operation === 'models.list') {
      const page = await client.models.list();
      return { ok: true, model_ids: page.data.map((m) => m.id) };
    }
    if (job.operation === 'models.retrieve') {
      const model = await client.models.retrieve(job.model_id);
      return { ok: true, model_ids: [model.id] };
    }
    const result = await callChat(client, job, index);
    return job.stream ? await readStream(result, partial) : readCompletion(result);
  } catch (err) {
    return { ok: false, error: describeError(err), content: partial.content };
  }
}

async function runJob(OpenAI, job) {
  let attempts = 0;
  const countingFetch = async (url, init = {}) => {
    attempts += 1;
    const headers = new Headers(init.headers);
    if (job.auth === 'missing') headers.delete('authorization');
    return fetch(url, { ...init, headers });
  };
  const client = new OpenAI({
    apiKey: job.api_key,
    baseURL: job.base_url,
    timeout: Math.round(job.timeout * 1000),
    maxRetries: job.max_retries,
    fetch: countingFetch,
  });
  const started = performance.now();
  const indexes = Array.from({ length: job.concurrency }, (_, i) => i);
  const items = await Promise.all(indexes.map((i) => runOne(client, job, i)));
  return { attempts, elapsed: (performance.now() - started) / 1000, items };
}

async function main() {
  const input = JSON.parse(await readStdin());
  if (typeof fetch !== 'function') {
    process.stdout.write(JSON.stringify({ fatal: `Node.js ${process.version} has no fetch; Node.js 20 or newer is needed` }));
    return;
  }
  let loaded;
  try {
    loaded = await loadOpenAI(input.node_modules);
  } catch (err) {
    process.stdout.write(JSON.stringify({ fatal: err.message }));
    return;
  }
  const results = {};
  for (const job of input.jobs) {
    try {
      results[job.id] = await runJob(loaded.OpenAI, job);
    } catch (err) {
      results[job.id] = { crash: String(err?.stack ?? err) };
    }
  }
  process.stdout.write(JSON.stringify({ sdk_version: loaded.version, results }));
}

await main();
