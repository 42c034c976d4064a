// The deltasync web console: plain browser JavaScript, no build step. Unary calls go to the REST paths of the HTTP
// port (docs/http.md); live changes come from SyncService/WatchChanges over gRPC-Web in its JSON form
// (application/grpc-web+json), read frame by frame from the fetch response's stream.
'use strict';

const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem('deltasync.token') || '',
  clientId: 'console-' + Math.random().toString(36).slice(2, 10),
  scope: '',
  entityType: '',
  cursor: '',
  entities: new Map(),   // "type/id" -> entity
  watch: null,           // AbortController of the open watch
  timers: [],
};

// ---- calls ------------------------------------------------------------------------------------------------------

class CallError extends Error {
  constructor(httpStatus, status) {
    super(status.message || ('HTTP ' + httpStatus));
    this.httpStatus = httpStatus;
    this.status = status;
    const info = (status.details || []).find((d) => d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo');
    this.reason = info ? info.reason : '';
  }
}

async function call(method, path, body) {
  const init = { method, headers: { authorization: 'Bearer ' + state.token } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  const json = text ? JSON.parse(text) : {};
  if (!response.ok) {
    throw new CallError(response.status, json);
  }
  return json;
}

// ---- sign in ----------------------------------------------------------------------------------------------------

async function signIn(token) {
  state.token = token.trim();
  try {
    await call('GET', '/sync/status');
  } catch (e) {
    $('sign-in-error').textContent = 'Sign-in failed: ' + e.message + (e.reason ? ' (' + e.reason + ')' : '');
    state.token = '';
    return;
  }
  sessionStorage.setItem('deltasync.token', state.token);
  $('sign-in-error').textContent = '';
  $('sign-in').hidden = true;
  $('console').hidden = false;
  $('sign-out').hidden = false;
  $('who').textContent = subjectOf(state.token);
  startWatching();
  refreshSide();
  state.timers.push(setInterval(refreshSide, 3000));
}

function signOut(message) {
  stopWatching();
  state.timers.forEach(clearInterval);
  state.timers = [];
  sessionStorage.removeItem('deltasync.token');
  state.token = '';
  $('console').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('who').textContent = '';
  $('sign-in-error').textContent = message || '';
}

function subjectOf(token) {
  try {
    const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return claims.sub ? 'signed in as ' + claims.sub : 'signed in';
  } catch (e) {
    return 'signed in (API key)';
  }
}

// ---- live changes over gRPC-Web ---------------------------------------------------------------------------------

function frame(message) {
  const bytes = new TextEncoder().encode(JSON.stringify(message));
  const out = new Uint8Array(5 + bytes.length);
  new DataView(out.buffer).setUint32(1, bytes.length);
  out.set(bytes, 5);
  return out;
}

function parseTrailers(text) {
  const trailers = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) {
      trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
  }
  return trailers;
}

async function watch(onEvent, signal) {
  const subscription = { scopes: [state.scope] };
  if (state.entityType) {
    subscription.entityType = state.entityType;
  }
  const response = await fetch('/deltasync.v1.SyncService/WatchChanges', {
    method: 'POST',
    headers: {
      authorization: 'Bearer ' + state.token,
      'content-type': 'application/grpc-web+json',
      'x-grpc-web': '1',
    },
    body: frame({ clientId: state.clientId, cursor: state.cursor, subscriptions: [subscription] }),
    signal,
  });
  if (response.headers.get('grpc-status') && response.headers.get('grpc-status') !== '0') {
    return { code: Number(response.headers.get('grpc-status')),
      message: decodeURIComponent(response.headers.get('grpc-message') || '') };
  }
  const reader = response.body.getReader();
  let buffer = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return { code: 14, message: 'the stream ended without a status' };
    }
    const joined = new Uint8Array(buffer.length + value.length);
    joined.set(buffer);
    joined.set(value, buffer.length);
    buffer = joined;
    while (buffer.length >= 5) {
      const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(1);
      if (buffer.length < 5 + length) {
        break;
      }
      const flags = buffer[0];
      const text = new TextDecoder().decode(buffer.subarray(5, 5 + length));
      buffer = buffer.slice(5 + length);
      if (flags & 0x80) {
        const trailers = parseTrailers(text);
        return { code: Number(trailers['grpc-status'] || 2),
          message: decodeURIComponent(trailers['grpc-message'] || '') };
      }
      onEvent(JSON.parse(text).event || {});
    }
  }
}

function startWatching() {
  stopWatching();
  state.scope = $('scope').value.trim();
  state.entityType = $('entity-type').value.trim();
  state.cursor = '';
  state.entities.clear();
  $('changes').replaceChildren();
  renderEntities();
  const controller = new AbortController();
  state.watch = controller;
  setWatchState('connecting');
  const loop = async () => {
    let delay = 1000;
    while (!controller.signal.aborted) {
      let end;
      const started = Date.now();
      try {
        end = await watch(handleEvent, controller.signal);
      } catch (e) {
        if (controller.signal.aborted) {
          return;
        }
        end = { code: 14, message: e.message };
      }
      if (end.code === 16) {
        signOut('Your token expired or was refused (' + end.message + '): sign in again.');
        return;
      }
      // Errors that the same request gets again (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED,
      // FAILED_PRECONDITION, OUT_OF_RANGE, UNIMPLEMENTED): retrying cannot help.
      if ([3, 5, 7, 9, 11, 12].includes(end.code)) {
        setWatchState('refused: ' + end.message);
        return;
      }
      // Anything else: resume from the last cursor, as a Sync client would, backing off (1 s doubling to 60 s,
      // with jitter) while the watch keeps ending quickly, so a lasting failure is not retried every second.
      if (Date.now() - started > 60000) {
        delay = 1000;
      }
      const wait = delay / 2 + Math.random() * delay / 2;
      setWatchState('reconnecting in ' + Math.round(wait / 1000) + ' s (' + end.message + ')');
      await new Promise((resolve) => setTimeout(resolve, wait));
      delay = Math.min(delay * 2, 60000);
    }
  };
  loop();
}

function stopWatching() {
  if (state.watch) {
    state.watch.abort();
    state.watch = null;
  }
  setWatchState('not watching');
}

function setWatchState(text) {
  $('watch-state').textContent = text;
  $('watch-state').className = text === 'live' ? 'state live' : 'state';
}

function handleEvent(event) {
  if (event.welcome) {
    setWatchState('catching up');
  } else if (event.resyncRequired) {
    state.entities.clear();
  } else if (event.changes) {
    const batch = event.changes;
    for (const change of batch.changes || []) {
      applyChange(change);
    }
    if (batch.cursor) {
      state.cursor = batch.cursor;
    }
    if (batch.phase === 'SYNC_PHASE_LIVE') {
      setWatchState('live');
    }
    renderEntities();
    if ((batch.changes || []).length > 0) {
      refreshConflicts();
    }
  } else if (event.tokenExpiring) {
    setWatchState('live (token expires at ' + event.tokenExpiring.expiresAt + ')');
  }
}

function applyChange(change) {
  const entity = change.entity || {};
  const key = entity.entityType + '/' + entity.entityId;
  if (change.operation === 'OPERATION_DELETE' || entity.isDeleted) {
    state.entities.delete(key);
  } else {
    state.entities.set(key, entity);
  }
  const item = document.createElement('li');
  item.textContent = (change.operation || '').replace('OPERATION_', '').toLowerCase() + ' ' + key + ' v'
      + (entity.rowVersion || 0) + ' ' + JSON.stringify(entity.data || {});
  $('changes').prepend(item);
  while ($('changes').children.length > 100) {
    $('changes').lastChild.remove();
  }
}

// ---- entities ---------------------------------------------------------------------------------------------------

function renderEntities() {
  const rows = [...state.entities.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, entity]) => {
    const row = document.createElement('tr');
    row.dataset.key = key;
    row.dataset.entityId = entity.entityId;
    for (const text of [entity.entityType, entity.entityId, String(entity.rowVersion || 0)]) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    const data = document.createElement('td');
    data.className = 'data';
    data.textContent = JSON.stringify(entity.data || {});
    row.append(data);
    const actions = document.createElement('td');
    const edit = document.createElement('button');
    edit.textContent = 'Edit';
    edit.className = 'edit';
    edit.addEventListener('click', () => openEditor(entity));
    actions.append(edit);
    row.append(actions);
    return row;
  });
  $('entities').tBodies[0].replaceChildren(...rows);
}

let editing = null;

function openEditor(entity) {
  editing = entity;
  $('editor-title').textContent = entity.entityType + '/' + entity.entityId + ' (version ' + entity.rowVersion + ')';
  $('editor-data').value = JSON.stringify(entity.data || {}, null, 2);
  $('editor-error').textContent = '';
  $('editor').showModal();
}

async function push(delta) {
  const result = await call('POST', '/sync/push', {
    clientId: state.clientId,
    deltas: [Object.assign({ deltaId: crypto.randomUUID(), scope: state.scope }, delta)],
  });
  const first = (result.results || [])[0] || {};
  if (first.status !== 'DELTA_STATUS_APPLIED') {
    throw new Error((first.status || 'no result') + (first.error ? ': ' + first.error.message : ''));
  }
  return first;
}

async function saveEditor(event) {
  event.preventDefault();
  let data;
  try {
    data = JSON.parse($('editor-data').value);
  } catch (e) {
    $('editor-error').textContent = 'Not JSON: ' + e.message;
    return;
  }
  try {
    await push({ entityType: editing.entityType, entityId: editing.entityId, operation: 'OPERATION_UPDATE',
      baseRowVersion: editing.rowVersion, data });
    $('editor').close();
  } catch (e) {
    $('editor-error').textContent = 'Not saved: ' + e.message;
  }
}

async function create(event) {
  event.preventDefault();
  $('write-error').textContent = '';
  try {
    await push({ entityType: $('create-type').value.trim(), entityId: $('create-id').value.trim(),
      operation: 'OPERATION_CREATE', data: JSON.parse($('create-data').value) });
    $('create-id').value = '';
  } catch (e) {
    $('write-error').textContent = 'Not created: ' + e.message;
  }
}

// ---- conflicts, status, metrics ---------------------------------------------------------------------------------

async function refreshConflicts() {
  let page;
  try {
    page = await call('GET', '/sync/conflicts?scope=' + encodeURIComponent(state.scope));
  } catch (e) {
    $('conflicts').textContent = e.httpStatus === 403 ? 'no permission (conflicts:read)' : e.message;
    return;
  }
  const conflicts = page.conflicts || [];
  $('conflict-count').textContent = '(' + conflicts.length + ')';
  $('conflicts').replaceChildren(...conflicts.map(renderConflict));
}

function renderConflict(conflict) {
  const delta = conflict.clientDelta || {};
  const box = document.createElement('div');
  box.className = 'conflict';
  box.dataset.conflictId = conflict.conflictId;
  box.dataset.entityId = delta.entityId;
  const title = document.createElement('div');
  title.textContent = delta.entityType + '/' + delta.entityId + ' from ' + conflict.clientId + ', '
      + (conflict.detectedAt || '');
  const sides = document.createElement('div');
  sides.className = 'sides';
  for (const [label, data, cls] of [['client', delta.data, 'client-data'],
    ['server (v' + (conflict.currentRowVersion || 0) + ')', (conflict.serverEntity || {}).data, 'server-data']]) {
    const side = document.createElement('div');
    const heading = document.createElement('h4');
    heading.textContent = label;
    const pre = document.createElement('pre');
    pre.className = cls;
    pre.textContent = JSON.stringify(data || {}, null, 2);
    side.append(heading, pre);
    sides.append(side);
  }
  const error = document.createElement('p');
  error.className = 'error';
  const buttons = document.createElement('div');
  for (const [label, choice] of [['Take client', 'RESOLUTION_CHOICE_TAKE_CLIENT'],
    ['Take server', 'RESOLUTION_CHOICE_TAKE_SERVER']]) {
    const button = document.createElement('button');
    button.textContent = label;
    button.className = choice === 'RESOLUTION_CHOICE_TAKE_CLIENT' ? 'take-client' : 'take-server';
    button.addEventListener('click', async () => {
      try {
        await call('POST', '/sync/resolve-conflict', { conflictId: conflict.conflictId, choice,
          baseRowVersion: conflict.currentRowVersion || 0 });
        box.remove();
        refreshConflicts();
      } catch (e) {
        error.textContent = 'Not resolved: ' + e.message + (e.reason ? ' (' + e.reason + ')' : '');
      }
    });
    buttons.append(button);
  }
  box.append(title, sides, buttons, error);
  return box;
}

const KEY_METRICS = ['deltasync_deltas_total', 'deltasync_sessions', 'deltasync_changefeed_watermark_age_seconds',
  'deltasync_stream_queued_changes', 'deltasync_changes_degraded_total', 'deltasync_push_duration_seconds_count'];

async function refreshSide() {
  if (!state.token) {
    return;
  }
  refreshConflicts();
  try {
    const status = await call('GET', '/sync/status');
    const shown = {
      'server version': status.serverVersion,
      'database reachable': String(!!status.databaseReachable),
      'schema version': status.schemaVersion,
      'watermark age': status.watermarkAge || '0s',
      'server cursor': status.serverCursor,
      'streams by phase': JSON.stringify(status.sessionsByPhase || {}),
    };
    $('status').replaceChildren(...Object.entries(shown).flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v === undefined ? '' : v;
      return [dt, dd];
    }));
  } catch (e) {
    if (e.httpStatus === 401) {
      signOut('Your token expired or was refused (' + e.message + '): sign in again.');
      return;
    }
  }
  try {
    const metrics = await call('GET', '/sync/metrics');
    const rows = (metrics.metrics || []).filter((m) => KEY_METRICS.includes(m.name)).map((m) => {
      const row = document.createElement('tr');
      const name = document.createElement('td');
      name.textContent = m.name + Object.entries(m.labels || {}).map(([k, v]) => ' ' + k + '=' + v).join('');
      const value = document.createElement('td');
      value.textContent = String(m.value || 0);
      row.append(name, value);
      return row;
    });
    $('metrics').tBodies[0].replaceChildren(...rows);
  } catch (e) {
    $('metrics').tBodies[0].textContent = e.httpStatus === 403 ? 'no permission (ops:metrics)' : e.message;
  }
}

// ---- wiring -----------------------------------------------------------------------------------------------------

$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  signIn($('token').value);
});
$('sign-out').addEventListener('click', () => signOut());
$('scope-form').addEventListener('submit', (event) => {
  event.preventDefault();
  startWatching();
  refreshSide();
});
$('editor-save').addEventListener('click', saveEditor);
$('create-form').addEventListener('submit', create);
if (state.token) {
  signIn(state.token);
}
