// Argon2id through @phi-ag/argon2's WebAssembly build, imported as a compiled module (workerd
// forbids compiling WASM from bytes at run time). One instance per isolate, created lazily on
// the first login so requests that never hash a password never pay for it.

import Argon2 from '@phi-ag/argon2'
import wasm from '@phi-ag/argon2/argon2.wasm'

let instance: Promise<Argon2> | null = null

/** The isolate's Argon2 instance. */
export function argon2(): Promise<Argon2> {
  instance ??= WebAssembly.instantiate(wasm).then((i) => new Argon2(i))
  return instance
}
