// A real OpenID provider for Flowspace's single sign-on tests: panva's oidc-provider (OpenID
// Certified), with its development login and consent pages (any login, any password).
//
//   node provider.js [port]        # 0 or nothing: any free port
//
// Prints `listening <issuer>` once it answers. Its issuer is http://127.0.0.1:<port>.
// Clients register themselves (dynamic registration, POST /reg); PKCE is required of every
// client. Test-only administration, under /admin:
//   POST /admin/accounts  {login, email, email_verified?, xms_edov?, groups, name?, amr?}
//                         an account's claims (its `sub` is the login; an absent
//                         email_verified is not sent, as Microsoft Entra ID sends none, and
//                         xms_edov is Entra's optional "email domain owner verified"; `amr`,
//                         when given, is put in its ID tokens: how the provider says it
//                         authenticated the account); an unknown login signs in with
//                         email = login, email_verified = true, groups = [] and no amr
//   POST /admin/rotate    a new signing key (a new `kid`) replaces the old one
//   POST /admin/misissue  {clientId}  the next ID token the token endpoint issues is issued to
//                         that (registered) client instead of the one that redeemed the
//                         code: its `aud` is the other client's, otherwise it is a real token
//                         of this provider (a provider that mixes up its clients, which is
//                         what a relying party's audience check is for)
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.PORT || 0);

// One in-memory store for every instance (a key rotation builds a new instance: registered
// clients, sessions and grants stay).
const store = new Map();
class SharedAdapter {
  constructor(model) { this.model = model; }
  key(id) { return `${this.model}:${id}`; }
  async upsert(id, payload, expiresIn) {
    const expires = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
    store.set(this.key(id), { payload, expires });
    if (payload.uid) store.set(`${this.model}:uid:${payload.uid}`, id);
    if (payload.userCode) store.set(`${this.model}:userCode:${payload.userCode}`, id);
    if (payload.grantId) {
      const k = `grant:${payload.grantId}`;
      store.set(k, [...(store.get(k) || []), this.key(id)]);
    }
  }
  async find(id) {
    const e = store.get(this.key(id));
    if (!e || (e.expires && e.expires < Date.now())) return undefined;
    return e.payload;
  }
  async findByUid(uid) { const id = store.get(`${this.model}:uid:${uid}`); return id && this.find(id); }
  async findByUserCode(code) { const id = store.get(`${this.model}:userCode:${code}`); return id && this.find(id); }
  async consume(id) { const e = store.get(this.key(id)); if (e) e.payload.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId(grantId) {
    for (const k of store.get(`grant:${grantId}`) || []) store.delete(k);
    store.delete(`grant:${grantId}`);
  }
}
const accounts = new Map();
let current = null;
let generation = 0;
let misissueTo = null;

function signingKey() {
  generation += 1;
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `k${generation}-${crypto.randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' };
}

function build(issuer) {
  const provider = new Provider(issuer, {
    adapter: SharedAdapter,
    jwks: { keys: [signingKey()] },
    cookies: { keys: ['flowspace-test-provider-cookies'] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified', 'xms_edov'],
      profile: ['name'],
      groups: ['groups'],
    },
    async findAccount(ctx, id) {
      const a = accounts.get(id) ?? { email: id, email_verified: true, groups: [] };
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: a.email,
            email_verified: a.email_verified,
            xms_edov: a.xms_edov,
            name: a.name ?? id,
            groups: a.groups ?? [],
          };
        },
      };
    },
  });
  const issue = provider.IdToken.prototype.issue;
  provider.IdToken.prototype.issue = async function issueMaybeToAnother(opts) {
    const amr = opts?.use === 'idtoken' && accounts.get(this.available?.sub)?.amr;
    if (amr) this.set('amr', amr);
    if (opts?.use === 'idtoken' && misissueTo) {
      const other = await provider.Client.find(misissueTo);
      misissueTo = null;
      if (other) this.client = other;
    }
    return issue.call(this, opts);
  };
  return provider.callback();
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      try { resolve(body ? JSON.parse(body) : {}); } catch (e) { reject(e); }
    });
  });
}

async function admin(req, res, issuer) {
  try {
    if (req.method === 'POST' && req.url === '/admin/accounts') {
      const a = await readJson(req);
      accounts.set(String(a.login), a);
    } else if (req.method === 'POST' && req.url === '/admin/misissue') {
      misissueTo = String((await readJson(req)).clientId);
    } else if (req.method === 'POST' && req.url === '/admin/rotate') {
      // A new instance shares the in-memory adapter (registered clients, sessions, grants)
      // with the old one: only the signing key changes.
      current = build(issuer);
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(204).end();
  } catch (e) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(String(e));
  }
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/admin/')) {
    admin(req, res, server.issuer);
  } else {
    current(req, res);
  }
});
server.listen(port, '127.0.0.1', () => {
  server.issuer = `http://127.0.0.1:${server.address().port}`;
  current = build(server.issuer);
  console.log(`listening ${server.issuer}`);
});
process.on('SIGTERM', () => process.exit(0));
