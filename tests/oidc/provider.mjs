// Test OpenID Provider for Gatehouse integration tests.
//
//   node tests/oidc/provider.mjs <config.json>
//
// Runs the `oidc-provider` package on 127.0.0.1 with an ephemeral port and
// prints one line on stdout when it is listening: `READY <port>`. Everything
// else (library notices, errors) goes to stderr. The process exits when its
// stdin reaches end-of-file, or on SIGTERM / SIGINT.
//
// Logins need no forms: the interaction page is answered by this script, which
// picks the user from `login_hint` and grants consent. See README.md.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

// stdout carries only the READY line; oidc-provider prints notices with
// console.info, so every console method writes to stderr.
for (const method of ['log', 'info', 'debug', 'warn']) {
  console[method] = (...args) => console.error(...args);
}

const { default: Provider } = await import('oidc-provider');

// ---------------------------------------------------------------- config --

function fail(message) {
  process.stderr.write(`provider.mjs: ${message}\n`);
  process.exit(2);
}

const configPath = process.argv[2];
if (!configPath) fail('usage: node provider.mjs <config.json>');

let config;
try {
  config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
} catch (err) {
  fail(`cannot read ${configPath}: ${err.message}`);
}

// Fields of a client or user entry that steer this script and are not
// passed to oidc-provider.
const CLIENT_FLAGS = ['email_only_in_userinfo'];
const USER_FLAGS = ['email_only_in_userinfo'];

const clients = [];
const clientFlags = new Map(); // client_id -> { email_only_in_userinfo }
// Adds or replaces (by client_id) a client; throws on a bad entry.
function putClient(entry) {
  if (typeof entry?.client_id !== 'string' || typeof entry.client_secret !== 'string'
      || !Array.isArray(entry.redirect_uris)) {
    throw new Error('each client needs client_id, client_secret and redirect_uris');
  }
  const metadata = { ...entry };
  const flags = {};
  for (const flag of CLIENT_FLAGS) {
    if (flag in metadata) {
      flags[flag] = metadata[flag] === true;
      delete metadata[flag];
    }
  }
  const at = clients.findIndex((c) => c.client_id === entry.client_id);
  if (at >= 0) clients[at] = metadata;
  else clients.push(metadata);
  clientFlags.set(entry.client_id, flags);
}
for (const entry of config.clients ?? []) {
  try {
    putClient(entry);
  } catch (err) {
    fail(err.message);
  }
}

// Users in insertion order; the first one is the default login.
const users = new Map(); // sub -> user object
function putUser(user) {
  if (typeof user?.sub !== 'string' || user.sub === '') {
    throw new TypeError('a user needs a non-empty string "sub"');
  }
  users.set(user.sub, { ...user });
}
try {
  for (const user of config.users ?? []) putUser(user);
} catch (err) {
  fail(err.message);
}

function userByEmail(email) {
  const wanted = email.toLowerCase();
  for (const user of users.values()) {
    if (typeof user.email === 'string' && user.email.toLowerCase() === wanted) return user;
  }
  return undefined;
}

// --------------------------------------------------------------- storage --

// One in-memory store shared by every Provider instance this process builds
// (a key rotation builds a new instance), written against oidc-provider's
// adapter interface. Values are copied in and out.
const store = new Map(); // "Model:id" -> { payload, expiresAt }
const grantMembers = new Map(); // grantId -> Set of store keys
const uidIndex = new Map(); // "Model:uid" -> id
const userCodeIndex = new Map(); // "Model:userCode" -> id

class SharedMemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(key, { payload: structuredClone(payload), expiresAt });
    if (payload.grantId) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
    if (payload.uid) uidIndex.set(this.key(payload.uid), id);
    if (payload.userCode) userCodeIndex.set(this.key(payload.userCode), id);
  }

  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    return structuredClone(entry.payload);
  }

  async findByUid(uid) {
    const id = uidIndex.get(this.key(uid));
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = userCodeIndex.get(this.key(userCode));
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

// ------------------------------------------------------------------ keys --

let keyGeneration = 0;

function newSigningKey() {
  keyGeneration += 1;
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: `test-rs256-${keyGeneration}-${crypto.randomBytes(4).toString('hex')}`,
    alg: 'RS256',
    use: 'sig',
  };
}

// The first key signs; any others are only published in the JWKS.
let signingKeys = [newSigningKey()];

// Claims merged into every ID token the token endpoint issues, which is then
// signed again with the current key: a provider that issues a token for
// another audience, or an expired one (POST /_test/id-token-override).
let idTokenOverride = {};

function base64url(data) {
  return Buffer.from(data).toString('base64url');
}

function overrideIdToken(jwt) {
  const [header, payload] = jwt.split('.');
  const claims = { ...JSON.parse(Buffer.from(payload, 'base64url')), ...idTokenOverride };
  const input = `${header}.${base64url(JSON.stringify(claims))}`;
  const key = crypto.createPrivateKey({ key: signingKeys[0], format: 'jwk' });
  return `${input}.${base64url(crypto.sign('sha256', Buffer.from(input), key))}`;
}

// Rewrites the ID token in the token endpoint's JSON answer.
function interceptTokenResponse(res) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    try {
      const answer = JSON.parse(Buffer.from(chunk ?? '').toString('utf8'));
      if (typeof answer.id_token === 'string') {
        answer.id_token = overrideIdToken(answer.id_token);
        const text = JSON.stringify(answer);
        res.setHeader('content-length', Buffer.byteLength(text));
        return end(text);
      }
    } catch {
      // Not JSON: pass it on unchanged.
    }
    return end(chunk, ...rest);
  };
}

// -------------------------------------------------------------- provider --

const SCOPES = ['openid', 'email', 'profile'];

let issuer; // set once the port is known
let current; // { provider, handle }

function findAccount(ctx, sub) {
  const user = users.get(sub);
  if (!user) return undefined;
  return {
    accountId: sub,
    // oidc-provider keeps only the claims that the granted scopes allow.
    async claims(use) {
      const out = { ...user };
      for (const flag of USER_FLAGS) delete out[flag];
      const clientId = ctx?.oidc?.client?.clientId;
      const emailOnlyInUserinfo = user.email_only_in_userinfo === true
        || clientFlags.get(clientId)?.email_only_in_userinfo === true;
      if (use === 'id_token' && emailOnlyInUserinfo) {
        delete out.email;
        delete out.email_verified;
      }
      return out;
    },
  };
}

function buildProvider() {
  const provider = new Provider(issuer, {
    adapter: SharedMemoryAdapter,
    clients,
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      // oidc-provider accepts client_secret_post as well for such a client.
      token_endpoint_auth_method: 'client_secret_basic',
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    scopes: SCOPES,
    claims: {
      acr: null,
      auth_time: null,
      iss: null,
      sid: null,
      openid: ['sub', 'hd'],
      email: ['email', 'email_verified'],
      profile: [
        'name', 'given_name', 'family_name', 'middle_name', 'nickname',
        'preferred_username', 'picture', 'locale', 'zoneinfo', 'updated_at',
      ],
    },
    // Put the claims of the granted scopes into the ID token too, not only
    // into the userinfo response.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    jwks: { keys: signingKeys },
    findAccount,
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
    },
    interactions: {
      url: (ctx, interaction) => `${issuer}/interaction/${interaction.uid}`,
    },
  });
  provider.on('server_error', (ctx, err) => {
    console.error('oidc-provider server_error:', err);
  });
  return { provider, handle: provider.callback() };
}

// ----------------------------------------------------------- interaction --

// Answers GET /interaction/<uid> without a page: decides the login from the
// stored authorization request and sends the browser back to oidc-provider.
async function completeInteraction(uid, res) {
  const { provider } = current;
  const interaction = await provider.Interaction.find(uid);
  if (!interaction) {
    send(res, 400, { error: 'unknown or expired interaction', uid });
    return;
  }

  const params = interaction.params ?? {};
  const hint = typeof params.login_hint === 'string' ? params.login_hint : '';
  let result;
  let user;
  if (/^deny@/i.test(hint)) {
    result = { error: 'access_denied', error_description: 'the test user declined the request' };
  } else {
    user = hint ? userByEmail(hint) : users.values().next().value;
    if (!user) {
      result = {
        error: 'access_denied',
        error_description: hint ? `no test user has the email ${hint}` : 'no test users configured',
      };
    }
  }

  if (!result) {
    const grant = new provider.Grant({ accountId: user.sub, clientId: params.client_id });
    const requested = String(params.scope ?? '').split(' ').filter((s) => SCOPES.includes(s));
    grant.addOIDCScope(requested.join(' '));
    const grantId = await grant.save();
    result = {
      login: { accountId: user.sub, remember: false },
      consent: { grantId },
    };
  }

  interaction.result = result;
  await interaction.persist();
  res.writeHead(303, { location: interaction.returnTo });
  res.end();
}

// oidc-provider ties the resume step (GET /auth/<uid>) to the browser with
// the `_interaction_resume` cookie, whose value is the uid. A client without
// a cookie jar does not send it, so it is added here from the path. Session
// cookies are dropped so that every authorization request logs in afresh and
// `login_hint` always decides the user.
function adjustCookies(req, path) {
  const cookies = (req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '' && !/^_session(\.|=)/.test(c));
  const resume = /^\/auth\/([A-Za-z0-9_-]+)$/.exec(path);
  if (resume && !cookies.some((c) => c.startsWith('_interaction_resume='))) {
    cookies.push(`_interaction_resume=${resume[1]}`);
  }
  if (cookies.length) {
    req.headers.cookie = cookies.join('; ');
  } else {
    delete req.headers.cookie;
  }
}

// ------------------------------------------------------- test endpoints --

const requestCounts = new Map(); // path -> count

function send(res, status, body) {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 1 << 20) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function testEndpoint(req, res, url) {
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'POST /_test/rotate-keys': {
      const keepOld = url.searchParams.get('keep_old') === '1';
      const key = newSigningKey();
      signingKeys = keepOld ? [key, ...signingKeys] : [key];
      current = buildProvider();
      send(res, 200, { signing_kid: key.kid, published_kids: signingKeys.map((k) => k.kid) });
      return;
    }
    case 'GET /_test/requests':
      send(res, 200, Object.fromEntries(requestCounts));
      return;
    case 'DELETE /_test/requests':
      requestCounts.clear();
      send(res, 200, {});
      return;
    case 'POST /_test/clients': {
      // Registers (or replaces) a client at runtime: the redirect URI of a
      // connection is known only once the connection exists.
      let entry;
      try {
        entry = await readJson(req);
        putClient(entry);
        current = buildProvider();
        if (!await current.provider.Client.find(entry.client_id)) throw new Error('not accepted');
      } catch (err) {
        send(res, 400, { error: err.error_description ?? err.message });
        return;
      }
      send(res, 200, { client_id: entry.client_id });
      return;
    }
    case 'POST /_test/id-token-override': {
      try {
        idTokenOverride = await readJson(req);
      } catch (err) {
        send(res, 400, { error: err.message });
        return;
      }
      send(res, 200, idTokenOverride);
      return;
    }
    case 'POST /_test/users': {
      let user;
      try {
        user = await readJson(req);
        putUser(user);
      } catch (err) {
        send(res, 400, { error: err.message });
        return;
      }
      send(res, 200, users.get(user.sub));
      return;
    }
    default:
      send(res, 404, { error: `no test endpoint ${route}` });
  }
}

// ---------------------------------------------------------------- server --

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    const path = url.pathname;
    if (path.startsWith('/_test/')) {
      await testEndpoint(req, res, url);
      return;
    }
    // Per-login paths are counted under one name.
    const counted = path.replace(/^\/(interaction|auth)\/[^/]+$/, '/$1/:uid');
    requestCounts.set(counted, (requestCounts.get(counted) ?? 0) + 1);

    const interaction = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(path);
    if (interaction && req.method === 'GET') {
      await completeInteraction(interaction[1], res);
      return;
    }

    adjustCookies(req, path);
    if (path === '/token' && req.method === 'POST' && Object.keys(idTokenOverride).length > 0) {
      interceptTokenResponse(res);
    }
    current.handle(req, res);
  } catch (err) {
    console.error('provider.mjs request error:', err);
    if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: err.message });
    else res.destroy();
  }
});

function shutdown() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  current = buildProvider();
  // oidc-provider checks static client metadata only when a client is first
  // used; check it now so a bad config fails here instead of inside a test.
  for (const { client_id: clientId } of clients) {
    try {
      if (!await current.provider.Client.find(clientId)) throw new Error('not found');
    } catch (err) {
      fail(`client ${clientId}: ${err.error_description ?? err.message}`);
    }
  }
  process.stdout.write(`READY ${port}\n`);
});
