// The dashboard's connection: asks for a credential, subscribes over /ws
// (`dashboard.subscribe`), renders each `{"type":"dashboard"}` snapshot, and
// reconnects with backoff when the socket drops, subscribing again. Other
// messages on /ws (the seed 002 metrics feed every dashboard connection gets)
// are ignored. The credential lives in sessionStorage: this tab only.
/* global document, window, sessionStorage, WebSocket */
import { clock } from './format.js'
import { render, resetBoard } from './render.js'

const STORAGE_KEY = 'roomgate.dashboard.credential'
const RECONNECT_MIN_MS = 500
const RECONNECT_MAX_MS = 15_000
/** Snapshots come every second: past this, the board says it is not live. */
const STALE_AFTER_MS = 4_000
/** roomgate closes a connection after too many wrong credentials with 1008. */
const CLOSE_POLICY_VIOLATION = 1008

const $ = (id) => document.getElementById(id)

let credential = loadCredential()
let socket = null
let authed = false
let attempt = 0
let reconnectTimer = null
let requests = 0
let lastSnapshot = null
let lastSnapshotAt = 0

function loadCredential() {
  try {
    const c = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null')
    if (c && (c.kind === 'token' || c.kind === 'api_key') && typeof c.value === 'string' && c.value !== '') return c
  } catch {
    // Unreadable: ask again.
  }
  return null
}

function forgetCredential() {
  credential = null
  sessionStorage.removeItem(STORAGE_KEY)
}

function setConnection(state, text) {
  const el = $('connection')
  el.className = `pill pill-${state}`
  el.textContent = text
}

function showLogin(message) {
  authed = false
  lastSnapshot = null
  resetBoard()
  $('board').hidden = true
  $('logout').hidden = true
  $('summary').textContent = ''
  $('updated').textContent = ''
  $('login').hidden = false
  $('login-submit').disabled = false
  $('login-error').textContent = message ?? ''
  setConnection('off', 'signed out')
}

function showBoard() {
  $('login').hidden = true
  $('login-error').textContent = ''
  $('board').hidden = false
  $('logout').hidden = false
}

function connect() {
  clearTimeout(reconnectTimer)
  reconnectTimer = null
  if (socket) return
  const url = new URL('/ws', window.location.href)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  setConnection('wait', attempt === 0 ? 'connecting…' : 'reconnecting…')
  const ws = new WebSocket(url)
  socket = ws
  ws.addEventListener('open', () => {
    attempt = 0
    subscribe()
  })
  ws.addEventListener('message', (event) => onMessage(event.data))
  ws.addEventListener('close', (event) => {
    if (socket !== ws) return
    socket = null
    onClose(event)
  })
}

function subscribe() {
  if (!credential || !socket || socket.readyState !== WebSocket.OPEN) return
  socket.send(
    JSON.stringify({
      type: 'event',
      event: 'dashboard.subscribe',
      request_id: `dashboard-${++requests}`,
      data: { [credential.kind]: credential.value },
    }),
  )
}

function onMessage(raw) {
  let m
  try {
    m = JSON.parse(raw)
  } catch {
    return
  }
  if (m.type === 'dashboard') {
    if (!authed) return
    lastSnapshot = m
    lastSnapshotAt = Date.now()
    render(m)
    header()
    return
  }
  if (m.event !== 'dashboard.subscribe') return // the metrics feed, and anything else
  if (m.type === 'response') {
    authed = true
    // The first snapshot follows the answer: quiet is counted from now, not from the epoch.
    lastSnapshotAt = Date.now()
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credential))
    showBoard()
    setConnection('live', 'live')
    return
  }
  if (m.type === 'error') {
    const code = m.error?.code
    forgetCredential()
    if (code === 'unauthorized') showLogin('Wrong token or key.')
    else if (code === 'not_configured') showLogin('This roomgate has no dashboard credentials configured (auth.bearerTokens or auth.apiKeys).')
    else if (code === 'rate_limited') showLogin('Too many attempts: wait a moment and try again.')
    else showLogin(`Sign-in failed: ${m.error?.message ?? 'unknown error'}`)
  }
}

function onClose(event) {
  if (event.code === CLOSE_POLICY_VIOLATION) {
    forgetCredential()
    showLogin('Too many wrong attempts: roomgate closed the connection. Check the credential and try again.')
    return
  }
  if (!credential) {
    if (!authed) setConnection('off', 'signed out')
    return
  }
  const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** attempt) * (0.75 + Math.random() * 0.5)
  attempt++
  setConnection('down', `disconnected · retrying in ${Math.ceil(delay / 1000)} s`)
  reconnectTimer = setTimeout(connect, delay)
}

function header() {
  const s = lastSnapshot
  if (!s) return
  const n = s.instances.length
  const engine = s.engine.state === 'ready' ? s.engine.kind : `${s.engine.kind} (unavailable)`
  $('summary').textContent = `${n} ${n === 1 ? 'instance' : 'instances'} · engine ${engine}`
  $('updated').textContent = `updated ${clock(s.at)}`
}

// Says so when snapshots stop coming on a socket that looks open (a stalled network).
setInterval(() => {
  if (!authed || !socket || socket.readyState !== WebSocket.OPEN) return
  const quiet = Date.now() - lastSnapshotAt
  if (quiet > STALE_AFTER_MS) setConnection('wait', `no update for ${Math.round(quiet / 1000)} s`)
  else setConnection('live', 'live')
}, 1_000)

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const input = $('credential')
  const value = input.value.trim()
  if (value === '') return
  credential = { kind: $('credential-kind').value, value }
  input.value = ''
  $('login-error').textContent = ''
  $('login-submit').disabled = true
  attempt = 0
  if (socket && socket.readyState === WebSocket.OPEN) subscribe()
  else connect()
})

$('logout').addEventListener('click', () => {
  forgetCredential()
  const ws = socket
  socket = null
  clearTimeout(reconnectTimer)
  ws?.close(1000, 'signed out')
  showLogin()
})

if (credential) {
  $('login').hidden = true
  connect()
} else {
  showLogin()
}
