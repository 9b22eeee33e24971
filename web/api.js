// Talking to steward's REST API: the token from the login form (kept in
// sessionStorage, sent as a bearer header, never in a URL), JSON calls, and
// the job event stream read with fetch() (EventSource cannot send headers).
const TOKEN_KEY = 'steward.token';

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  login: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  logout: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra = {}) {
  return { Authorization: `Bearer ${session.token() || ''}`, Accept: 'application/json', ...extra };
}

// A 401 anywhere means the token is gone or wrong: back to the login form.
function refused(status) {
  if (status === 401) window.dispatchEvent(new CustomEvent('steward:unauthorized'));
}

export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = { method, headers: headers(), signal, cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    refused(response.status);
    throw new ApiError(response.status, (data && data.message) || `${response.status} ${response.statusText}`);
  }
  return data;
}

// Server-Sent Events from `path`: calls onEvent(name, data) per event until
// the stream ends or `signal` aborts it.
export async function readEvents(path, onEvent, signal) {
  const response = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), signal, cache: 'no-store' });
  if (!response.ok) {
    refused(response.status);
    throw new ApiError(response.status, `${response.status} ${response.statusText}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      dispatchFrame(frame, onEvent);
    }
  }
}

function dispatchFrame(frame, onEvent) {
  let name = 'message';
  const data = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith(':')) continue;  // heartbeat comment
    if (line.startsWith('event: ')) name = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  if (data.length === 0) return;
  onEvent(name, JSON.parse(data.join('\n')));
}
