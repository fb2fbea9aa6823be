// A user actor: what one demo app does, in a loop until the run's deadline. Each session logs a
// persona in (the two tenants and both client types in turn, every third bound to a DPoP key),
// makes API calls on the low, standard and critical routes it may use, refreshes (alone, as
// two tabs racing with the same token, or as a retry after a lost answer; a bound session also
// lets a thief present its token without the key) and ends by a deliberate replay, a logout,
// or by being left live. An
// answer that says the session is gone (an admin revoked it, a key was removed) is probed once
// more on purpose, so every revocation is tested from outside, then the actor starts over.
// Whether an answer was right is decided afterwards by the ledger, never here.

import { adopt, api, login, logout, refresh, routesFor } from './client.mjs'

const MIN_STEPS = 6
const MAX_STEPS = 16
/** A throttled login waits this long at most before the actor tries again. */
const MAX_LOGIN_BACKOFF_MS = 2_000
/** Share of sessions that end with a deliberate replay, and with a logout (the rest stay live). */
const REPLAY_SHARE = 0.12
const LOGOUT_SHARE = 0.15

const pick = (list) => list[Math.floor(Math.random() * list.length)]
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Runs one user actor until ctx.stopping(). */
export async function runUserActor(ctx, actor) {
  // Every actor's first complete sessions end with a replay and a logout, so that even a short
  // run has some of each; later endings are drawn at random.
  const owed = ['replay', 'logout']
  while (!ctx.stopping()) {
    // Personas in turn across all actors; each persona alternates mobile and web.
    const turn = ctx.turn++
    const persona = ctx.personas[turn % ctx.personas.length]
    const client = Math.floor(turn / ctx.personas.length) % 2 === 0 ? 'mobile' : 'web'
    // Every third session is bound to a DPoP key (and so may call DPoP-only routes).
    const bound = turn % 3 === 1
    const { session, retryAfter, op } = await login(ctx, persona, client, actor, bound)
    if (session === null) {
      // 429: the throttle said when; anything else is already a failure on the ledger.
      await sleep(op.status === 429 ? Math.min(retryAfter * 1000, MAX_LOGIN_BACKOFF_MS) : 250)
      continue
    }
    ctx.sessions.push(session)
    ctx.registry.add(session)
    try {
      await lifecycle(ctx, session, owed)
    } finally {
      ctx.registry.delete(session)
    }
  }
}

async function lifecycle(ctx, session, owed) {
  const steps = MIN_STEPS + Math.floor(Math.random() * (MAX_STEPS - MIN_STEPS + 1))
  for (let i = 0; i < steps; i++) {
    if (ctx.stopping()) return
    const r = Math.random()
    const alive =
      r < 0.45
        ? await apiStep(ctx, session, 'low')
        : r < 0.7
          ? await apiStep(ctx, session, pick(checkedTiers(ctx, session)))
          : r < 0.86
            ? await refreshStep(ctx, session)
            : r < 0.9 && session.dpop !== null
              ? await stolenStep(ctx, session)
              : await raceStep(ctx, session)
    if (!alive) return
  }
  if (ctx.stopping()) return
  const r = Math.random()
  const end =
    owed.shift() ??
    (r < REPLAY_SHARE ? 'replay' : r < REPLAY_SHARE + LOGOUT_SHARE ? 'logout' : null)
  if (end === 'replay') await replayStep(ctx, session)
  else if (end === 'logout') await logoutStep(ctx, session)
}

/** The tiers above low the session has a route on (the standard one needs DPoP). */
function checkedTiers(ctx, session) {
  return ['standard', 'critical'].filter((t) => routesFor(ctx, session, t).length > 0)
}

/**
 * A bound session's current refresh token presented without the proof of its key, as a thief
 * would: refused, and the session lives on (the token is useless without the key).
 */
async function stolenStep(ctx, session) {
  await refresh(ctx, session, 'stolen', { proof: false })
  return true
}

/** An API call; a refused token is followed by a refresh, as a real client does. */
async function apiStep(ctx, session, tier) {
  const op = await api(ctx, session, tier)
  if (op.status === 200) return true
  if (op.status === 401) return refreshStep(ctx, session)
  return false
}

async function refreshStep(ctx, session) {
  const { op, tokens } = await refresh(ctx, session, 'rotate')
  if (tokens !== null) {
    adopt(session, tokens)
    return true
  }
  if (op.status === 401) await probeEnded(ctx, session, 'refused')
  return false
}

/**
 * Two tabs present the same token at once ('race'), or a client retries after losing the answer
 * ('retry'): both must get the same successor, and the session must live on.
 */
async function raceStep(ctx, session) {
  const token = session.refresh
  let results
  if (Math.random() < 0.75) {
    results = await Promise.all([
      refresh(ctx, session, 'race', { token }),
      refresh(ctx, session, 'race', { token }),
    ])
  } else {
    const lost = await refresh(ctx, session, 'retry', { token })
    results = [lost, await refresh(ctx, session, 'retry', { token })]
  }
  const [a, b] = results
  a.op.pairWith = b.op.id
  b.op.pairWith = a.op.id
  const won = results.find((x) => x.tokens !== null)
  if (won !== undefined) {
    adopt(session, won.tokens)
    return true
  }
  if (results.some((x) => x.op.status === 401)) await probeEnded(ctx, session, 'refused')
  return false
}

/**
 * A deliberate replay: an already-rotated token whose successor was used too, the current token
 * from another device, or a web session's token sent as a mobile app would. Each must be
 * refused and end the session; the probes then check that it did.
 */
async function replayStep(ctx, session) {
  const kinds = ['stale', session.client === 'mobile' ? 'other-device' : 'mobile-body']
  const kind = pick(kinds)
  if (kind === 'stale') {
    // A token whose successor is still unused is the immediate parent: a legitimate retry
    // within the reuse window. Only a token two rotations back is a replay for certain.
    while (session.history.length < 3) {
      if (!(await refreshStep(ctx, session))) return
    }
    const stale = pick(session.history.slice(0, -2))
    await refresh(ctx, session, 'replay-stale', { token: stale })
  } else {
    await refresh(ctx, session, `replay-${kind}`, { as: kind })
  }
  session.ended = 'replay'
  await probeEnded(ctx, session, 'replayed')
}

async function logoutStep(ctx, session) {
  let op = await logout(ctx, session)
  if (op.status === 401 && (await refreshStep(ctx, session))) op = await logout(ctx, session)
  if (op.status !== 204) return
  session.ended = 'logout'
  await probeEnded(ctx, session, 'logged-out')
}

/**
 * The session is over (or should be): its current tokens are presented once more on purpose — a
 * refresh and a critical call must be refused, a low call is accepted by design (no revocation
 * check on the low tier).
 */
async function probeEnded(ctx, session, why) {
  session.ended ??= why
  await refresh(ctx, session, 'probe')
  await api(ctx, session, 'critical', { probe: why })
  await api(ctx, session, 'low', { probe: why })
}
