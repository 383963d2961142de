// A real OpenID Connect provider (the `oidc-provider` package) for the
// single sign-on tests, on loopback. Its development sign-in form accepts
// any password; the accounts below say which Trellis memberships each user
// has, through the `trellis_roles` claim.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const redirect = process.env.OIDC_REDIRECT_URI;

const accounts = {
  ada: { preferred_username: 'ada', email: 'ada@example.com', trellis_roles: ['demo:viewer'] },
  bob: { preferred_username: 'bob', email: 'bob@example.com', trellis_roles: ['demo:editor', 'nowhere:editor'] },
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: 'trellis',
      client_secret: 'trellis-test-secret',
      redirect_uris: [redirect],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'trellis_roles'],
    email: ['email'],
  },
  // Put the requested claims in the ID token itself.
  conformIdTokenClaims: false,
  cookies: { keys: ['trellis-e2e-cookie-key'] },
  async findAccount(ctx, id) {
    const account = accounts[id] || { preferred_username: id, trellis_roles: [] };
    return { accountId: id, claims: async () => ({ sub: id, ...account }) };
  },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on http://127.0.0.1:${port}`);
});
