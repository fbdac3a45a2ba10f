// A small OpenID Connect provider for the runtime's e-identification tests and for trying the
// login locally (issue #13). It is node's oidc-provider (tests/runtime/package.json) with:
//
// - test people carrying a personnummer (the Swedish OIDC profile's personalIdentityNumber
//   claim) or an HSA-id (employeeHsaId), released in the ID token;
// - a one-page "login": pick a test person and press "Logga in" (no password; a test fills
//   the form), consent given at once;
// - clients, redirect URIs and people from a JSON file (first argument), or the demo's
//   defaults: `stegvis runtime --demo` at http://localhost:8000;
// - PKCE required, RP-initiated logout on.
//
// Listens on 127.0.0.1 only, on the port in the config ("port", 0 = any free one), and prints
// one line of JSON when ready: {"issuer": "http://127.0.0.1:PORT"}. Never use it for real logins.

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const PNR = 'https://id.oidc.se/claim/personalIdentityNumber';
const SAMORDNING = 'https://id.oidc.se/claim/coordinationNumber';
const PNR_SCOPE = 'https://id.oidc.se/scope/naturalPersonNumber';

// The demo's people (runtime/demo.py), plus two the runtime does not know.
const DEMO_PEOPLE = {
  anna: { name: 'Anna Andersson', [PNR]: '191212121212' },
  bertil: { name: 'Bertil Berg', [PNR]: '197010632391' },
  greta: { name: 'Greta Gren', [PNR]: '195502114936' },
  okand_patient: { name: 'Olle Okänd (inget program)', [PNR]: '198112189876' },
  behandlare: { name: 'Tove Lind (SITHS)', employeeHsaId: 'SE0000000000-DEMO1' },
  admin: { name: 'Adam Ahl (SITHS)', employeeHsaId: 'SE0000000000-DEMO2' },
  erik: { name: 'Erik Ek (SITHS)', employeeHsaId: 'SE0000000000-DEMO3' },
  okand: { name: 'Okänd Personal (SITHS)', employeeHsaId: 'SE0000000000-OKAND' },
};

function demoConfig() {
  const base = process.env.STEGVIS_URL || 'http://localhost:8000';
  return {
    port: Number(process.env.OIDC_PORT || 8010),
    people: DEMO_PEOPLE,
    clients: [
      { client_id: 'stegvis-e-legitimation', client_secret: 'demo-hemlighet-patient',
        redirect_uris: [`${base}/logga-in/oidc/e-legitimation/tillbaka`],
        post_logout_redirect_uris: [`${base}/utloggad`] },
      { client_id: 'stegvis-siths', client_secret: 'demo-hemlighet-personal',
        token_endpoint_auth_method: 'client_secret_post',
        redirect_uris: [`${base}/logga-in/oidc/siths/tillbaka`],
        post_logout_redirect_uris: [`${base}/utloggad`] },
    ],
  };
}

const config = process.argv[2] ? JSON.parse(readFileSync(process.argv[2], 'utf8')) : demoConfig();
const people = config.people || DEMO_PEOPLE;

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="sv"><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-signing-key', use: 'sig', alg: 'RS256' };

const server = createServer();
server.listen(config.port || 0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...c,
    })),
    jwks: { keys: [signingKey] },
    cookies: { keys: ['stegvis-test-provider-cookie-key'] },
    pkce: { required: () => true },
    scopes: ['openid', 'profile', PNR_SCOPE],
    claims: {
      openid: ['sub'],
      profile: ['name', 'employeeHsaId'],
      [PNR_SCOPE]: [PNR, SAMORDNING],
    },
    // The people's claims go into the ID token (the runtime reads them there, not from userinfo).
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.body = page('Logga ut från testleverantören', `${form}
<p><button type="submit" form="op.logoutForm" name="logout" value="yes">Logga ut</button></p>`);
        },
      },
    },
    async findAccount(ctx, sub) {
      if (!people[sub]) return undefined;
      return { accountId: sub, async claims() { return { sub, ...people[sub] }; } };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    // Consent is given at once: these are test clients.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid');
      grant.addOIDCClaims([PNR, SAMORDNING, 'name', 'employeeHsaId']);
      await grant.save();
      return grant;
    },
  });
  const callback = provider.callback();

  server.on('request', async (req, res) => {
    const match = req.url.match(/^\/interaction\/([A-Za-z0-9_-]+)$/);
    if (!match) {
      callback(req, res);
      return;
    }
    try {
      if (req.method === 'GET') {
        await provider.interactionDetails(req, res);
        const options = Object.entries(people).map(([id, p]) => `<option value="${escape(id)}">${escape(p.name)}</option>`).join('');
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(page('Testleverantör: logga in', `<form method="post" action="/interaction/${match[1]}">
<p><label for="person">Testperson</label> <select id="person" name="person">${options}</select></p>
<p><button type="submit" name="action" value="login">Logga in</button>
<button type="submit" name="action" value="cancel">Avbryt</button></p></form>`));
        return;
      }
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = new URLSearchParams(body);
      const person = form.get('person');
      const result = form.get('action') === 'cancel' || !people[person]
        ? { error: 'access_denied', error_description: 'Inloggningen avbröts' }
        : { login: { accountId: person } };
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    } catch (err) {
      res.statusCode = 400;
      res.end(page('Fel', escape(err.message)));
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
