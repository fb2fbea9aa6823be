// Watches the files npm start acted on (the configuration it serves, wrangler.toml) and calls back
// once per saved change. The directory is watched, not the file: editors save by writing a new
// file and renaming it over the old one, which ends a watch on the old file's inode. Bursts of
// events (one save is often two or three) are debounced, and a save that leaves the content
// unchanged is ignored.

import { createHash } from 'node:crypto'
import { readFileSync, watch } from 'node:fs'
import { basename, dirname } from 'node:path'

/** Quiet time after the last event before a change is reported (one save is a burst). */
const WATCH_DEBOUNCE_MS = 300

function digest(path) {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex')
  } catch {
    return null // gone for now (between an editor's unlink and rename)
  }
}

/**
 * Calls `onChange(path)` after `path`'s content changed and stayed unchanged for the debounce
 * time. Returns a function that stops watching. Changes are reported one at a time: a callback
 * (it may be async) finishes before the next one starts.
 */
export function watchFile(path, onChange) {
  const name = basename(path)
  let last = digest(path)
  let timer
  let running = Promise.resolve()
  const check = () => {
    running = running
      .then(async () => {
        const now = digest(path)
        if (now === null || now === last) return
        last = now
        await onChange(path)
      })
      .catch((err) => console.error(`npm start: while handling a change of ${name}:`, err))
  }
  const watcher = watch(dirname(path), (_event, file) => {
    if (file !== null && file !== name) return
    clearTimeout(timer)
    timer = setTimeout(check, WATCH_DEBOUNCE_MS)
  })
  watcher.on('error', () => watcher.close()) // the directory went away: nothing left to watch
  return () => {
    clearTimeout(timer)
    watcher.close()
  }
}
