// The admin actor: the tenants' administrators at work while the users are. Every
// ADMIN_INTERVAL_MS it picks a live session of a user actor and revokes it (POST
// /admin/revocations {sid}, DELETE /admin/sessions/:sid) or revokes its current access token by
// jti, lists a user's sessions, or — as acme's admin — tries to revoke a demo session, which
// must be refused and leave the session alive. demo's admin is also the operator, and acts on
// some of acme's sessions across tenants. After each revocation the revoked token is
// presented at a critical route at once. Halfway through the run it rotates the signing keys
// (a scheduled rotation, then an emergency one that removes the current key), then presents its
// own token of the removed key on a low and a critical route, and users' tokens of that key on
// the low route.

import { adminCall, adopt, api, login, refresh } from './client.mjs'

const ADMIN_INTERVAL_MS = 200
const LOGIN_ATTEMPTS = 5
/** How many users' tokens of the removed key the admin presents right after the rotation. */
const REMOVED_KID_PROBES = 20
/** Share of acme's sessions the demo operator acts on across tenants. */
const OPERATOR_SHARE = 0.2

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function loginAdmin(ctx, persona, actor) {
  for (let attempt = 0; attempt < LOGIN_ATTEMPTS; attempt++) {
    const { session } = await login(ctx, persona, 'mobile', actor)
    if (session !== null) return session
    await sleep(500)
  }
  throw new Error(`soak: ${persona.username} (${persona.tenant}) could not log in`)
}

/** Runs the admin actor until ctx.stopping(); resolves to nothing, records everything. */
export async function runAdminActor(ctx) {
  const operator = await loginAdmin(ctx, ctx.adminOf('demo'), 'admin-demo')
  const tenantAdmin = await loginAdmin(ctx, ctx.adminOf('acme'), 'admin-acme')
  const admins = { demo: operator, acme: tenantAdmin }
  ctx.sessions.push(operator, tenantAdmin)
  let rotated = false
  while (!ctx.stopping()) {
    await sleep(ADMIN_INTERVAL_MS * (0.5 + Math.random()))
    if (ctx.stopping()) return
    if (!rotated && Date.now() >= ctx.rotateAt) {
      rotated = true
      await rotateKeys(ctx, operator, admins)
      continue
    }
    const target = pickTarget(ctx)
    if (target === null) continue
    await act(ctx, admins, target)
  }
}

function pickTarget(ctx) {
  const live = [...ctx.registry].filter((s) => s.ended === null && !s.targeted)
  return live.length === 0 ? null : live[Math.floor(Math.random() * live.length)]
}

async function act(ctx, admins, target) {
  const r = Math.random()
  const tenant = target.persona.tenant
  // The operator crosses tenants now and then; the acme admin may not, and is told so.
  if (r < 0.06 && tenant === 'demo') return denied(ctx, admins.acme, target)
  const admin = tenant === 'acme' && Math.random() < OPERATOR_SHARE ? admins.demo : admins[tenant]
  if (r < 0.4) return revoke(ctx, admin, target, 'sid')
  if (r < 0.62) return revoke(ctx, admin, target, 'delete')
  if (r < 0.88) return revoke(ctx, admin, target, 'jti')
  await withFreshToken(ctx, admin, () =>
    adminCall(
      ctx,
      admin,
      'admin-list',
      { targetSid: target.sid },
      `/admin/sessions?sub=${encodeURIComponent(target.persona.id)}&tenant=${tenant}`,
    ),
  )
}

async function revoke(ctx, admin, target, how) {
  const access = target.access
  if (how !== 'jti') target.targeted = true
  const { op } = await withFreshToken(ctx, admin, () =>
    how === 'delete'
      ? adminCall(
          ctx,
          admin,
          'revoke',
          { variant: how, targetSid: target.sid },
          `/admin/sessions/${target.sid}`,
          {
            method: 'DELETE',
          },
        )
      : adminCall(
          ctx,
          admin,
          'revoke',
          { variant: how, targetSid: target.sid, targetJti: how === 'jti' ? access.jti : null },
          '/admin/revocations',
          {
            method: 'POST',
            body: JSON.stringify(how === 'jti' ? { jti: access.jti } : { sid: target.sid }),
          },
        ),
  )
  if (op.status === 200 || op.status === 204) {
    await api(ctx, target, 'critical', { access, actor: admin.actor, probe: `admin-${how}` })
  }
}

async function denied(ctx, acmeAdmin, target) {
  await withFreshToken(ctx, acmeAdmin, () =>
    adminCall(
      ctx,
      acmeAdmin,
      'revoke',
      { variant: 'cross-tenant', targetSid: target.sid },
      '/admin/revocations',
      { method: 'POST', body: JSON.stringify({ sid: target.sid }) },
    ),
  )
}

/** An admin call; if the admin's own token is refused (its key was removed), refresh, retry once. */
async function withFreshToken(ctx, admin, call) {
  const first = await call()
  if (first.op.status !== 401) return first
  const { tokens } = await refresh(ctx, admin, 'rotate')
  if (tokens === null) return first
  adopt(admin, tokens)
  return call()
}

async function rotateKeys(ctx, operator, admins) {
  const rotate = (emergency) =>
    withFreshToken(ctx, operator, () =>
      adminCall(ctx, operator, 'rotate-keys', { emergency }, '/admin/keys/rotate', {
        method: 'POST',
        body: JSON.stringify({ emergency }),
      }),
    )
  // A scheduled rotation promotes the next key only once it has been published long enough;
  // on a fresh stack the answer is `rotated: false` with the time it will be ready.
  const scheduled = await rotate(false)
  scheduled.op.rotated = scheduled.body?.rotated ?? null
  if (ctx.rotation !== 'emergency') return
  const oldTokens = Object.values(admins).map((a) => ({ admin: a, access: a.access }))
  const emergency = await rotate(true)
  emergency.op.removedKid = emergency.body?.removed_kid ?? null
  emergency.op.currentKid = emergency.body?.current_kid ?? null
  for (const { admin, access } of oldTokens) {
    if (access.kid !== emergency.op.removedKid) continue
    await api(ctx, admin, 'low', { access, probe: 'removed-kid' })
    await api(ctx, admin, 'critical', { access, probe: 'removed-kid' })
    const { tokens } = await refresh(ctx, admin, 'rotate')
    if (tokens !== null) adopt(admin, tokens)
  }
  // The users' last tokens of the removed key, ended sessions' too: refused even on the low
  // tier, which checks no revocation but cannot verify a signature whose key is gone.
  const removed = ctx.sessions.filter((s) => s.access.kid === emergency.op.removedKid)
  for (const session of removed.slice(-REMOVED_KID_PROBES)) {
    await api(ctx, session, 'low', { actor: operator.actor, probe: 'removed-kid' })
  }
}
