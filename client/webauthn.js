// WebAuthn ceremonies for gatehouse/client: the gateway sends options as JSON (WebAuthn L3
// PublicKeyCredential{Creation,Request}OptionsJSON, binary members base64url) and takes the
// credential back as JSON (RegistrationResponseJSON, AuthenticationResponseJSON). Browsers'
// own PublicKeyCredential.parse*OptionsFromJSON and toJSON() are recent (Chromium 129, Safari
// 18), so the conversion is done here for every browser, with the same member names.

/**
 * base64url (RFC 4648 §5, padding optional) to bytes. Throws TypeError on anything else.
 * @param {string} text
 * @returns {ArrayBuffer}
 */
export function base64urlToBuffer(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(text)) {
    throw new TypeError('gatehouse: not base64url')
  }
  const binary = atob(text.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/'))
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes.buffer
}

/**
 * Bytes to base64url without padding.
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {string}
 */
export function bufferToBase64url(data) {
  const bytes =
    data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * @param {Record<string, any>} descriptor a PublicKeyCredentialDescriptorJSON
 * @returns {PublicKeyCredentialDescriptor}
 */
const descriptorFromJSON = (descriptor) => ({
  type: 'public-key',
  ...descriptor,
  id: base64urlToBuffer(descriptor.id),
})

/**
 * PublicKeyCredentialCreationOptionsJSON → what navigator.credentials.create() takes.
 * @param {Record<string, any>} json
 * @returns {PublicKeyCredentialCreationOptions}
 */
export function creationOptionsFromJSON(json) {
  return {
    rp: json.rp,
    pubKeyCredParams: json.pubKeyCredParams,
    ...json,
    challenge: base64urlToBuffer(json.challenge),
    user: { ...json.user, id: base64urlToBuffer(json.user?.id) },
    excludeCredentials: (json.excludeCredentials ?? []).map(descriptorFromJSON),
  }
}

/**
 * PublicKeyCredentialRequestOptionsJSON → what navigator.credentials.get() takes.
 * @param {Record<string, any>} json
 * @returns {PublicKeyCredentialRequestOptions}
 */
export function requestOptionsFromJSON(json) {
  return {
    ...json,
    challenge: base64urlToBuffer(json.challenge),
    allowCredentials: (json.allowCredentials ?? []).map(descriptorFromJSON),
  }
}

/** @param {ArrayBuffer | null | undefined} data */
const optional = (data) => (data == null ? undefined : bufferToBase64url(data))

/**
 * A credential from create() or get() → RegistrationResponseJSON / AuthenticationResponseJSON.
 * @param {PublicKeyCredential} credential
 * @returns {Record<string, unknown>}
 */
export function credentialToJSON(credential) {
  const r = /** @type {any} */ (credential.response)
  /** @type {Record<string, unknown>} */
  const response = { clientDataJSON: bufferToBase64url(r.clientDataJSON) }
  if (r.attestationObject !== undefined) {
    // An attestation (registration). The getters below are WebAuthn L2/L3 and may be missing.
    response.attestationObject = bufferToBase64url(r.attestationObject)
    if (typeof r.getTransports === 'function') response.transports = r.getTransports()
    if (typeof r.getAuthenticatorData === 'function') {
      response.authenticatorData = bufferToBase64url(r.getAuthenticatorData())
    }
    if (typeof r.getPublicKeyAlgorithm === 'function') {
      response.publicKeyAlgorithm = r.getPublicKeyAlgorithm()
    }
    if (typeof r.getPublicKey === 'function') response.publicKey = optional(r.getPublicKey())
  } else {
    response.authenticatorData = bufferToBase64url(r.authenticatorData)
    response.signature = bufferToBase64url(r.signature)
    response.userHandle = optional(r.userHandle)
  }
  return {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults?.() ?? {},
  }
}

/**
 * Runs one ceremony with `container` (navigator.credentials or an injected one) and returns
 * the credential as JSON. Rejects with the browser's DOMException when the user or the
 * authenticator declines (NotAllowedError), and TypeError when there is no WebAuthn here.
 * @param {CredentialsContainer | undefined} container
 * @param {'create' | 'get'} ceremony
 * @param {Record<string, any>} optionsJson
 * @returns {Promise<Record<string, unknown>>}
 */
export async function runCeremony(container, ceremony, optionsJson) {
  if (container === undefined || typeof container[ceremony] !== 'function') {
    throw new TypeError('gatehouse: this runtime has no WebAuthn (pass options.credentials)')
  }
  const credential =
    ceremony === 'create'
      ? await container.create({ publicKey: creationOptionsFromJSON(optionsJson) })
      : await container.get({ publicKey: requestOptionsFromJSON(optionsJson) })
  if (credential === null || credential.type !== 'public-key') {
    throw new DOMException('no credential was returned', 'NotAllowedError')
  }
  return credentialToJSON(/** @type {PublicKeyCredential} */ (credential))
}
