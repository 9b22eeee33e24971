// Targets: the inventory with each host's transport and what its last run
// said of reaching it; agents and callback targets when the server has them.
import { api } from '../api.js';
import { ago, el, every, status } from '../dom.js';

const REFRESH_MS = 3000;

export function targetsPage(main, signal) {
  const hosts = el('tbody', { id: 'targets-body' });
  const agents = el('tbody', { id: 'agents-body' });
  const callbacks = el('tbody', { id: 'callbacks-body' });
  const agentsNote = el('p', { class: 'muted' });
  const callbacksNote = el('p', { class: 'muted' });
  const head = (...names) => el('thead', {}, el('tr', {}, ...names.map((name) => el('th', { text: name }))));
  main.replaceChildren(
    el('h1', { text: 'Targets' }),
    el('table', { class: 'grid', id: 'targets' }, head('target', 'transport', 'reachable', 'last seen', 'last error', ''), hosts),
    el('h2', { text: 'Agents' }), agentsNote,
    el('table', { class: 'grid', id: 'agents' }, head('id', 'hostname', 'state', 'connected', 'last seen', 'address', 'version'), agents),
    el('h2', { text: 'Callback targets' }), callbacksNote,
    el('table', { class: 'grid', id: 'callbacks' }, head('name', 'user', 'connected', 'last seen', 'address'), callbacks));

  const ping = async (name, button) => {
    button.disabled = true;
    try {
      const reply = await api('/ping', { method: 'POST', body: { targets: [name] }, signal });
      status(`ping ${name}: job ${reply.jid}`);
    } catch (error) {
      status(error.message, true);
    } finally {
      button.disabled = false;
    }
  };

  every(REFRESH_MS, signal, async () => {
    const [details, agentList, callbackList] = await Promise.all([
      api('/targets?detail=1', { signal }),
      api('/agents', { signal }).catch((error) => error),
      api('/callbacks', { signal }).catch((error) => error),
    ]);
    hosts.replaceChildren(...details.map((target) => {
      const reach = target.reachable === null ? 'unknown' : target.reachable ? 'reachable' : 'unreachable';
      const button = el('button', { type: 'button', class: 'small', text: 'Ping' });
      button.addEventListener('click', () => ping(target.name, button));
      return el('tr', { 'data-target': target.name },
        el('td', { text: target.name }),
        el('td', { text: target.transport || '' }),
        el('td', {}, el('span', { class: `badge ${reach}`, text: reach })),
        el('td', { text: target.last_seen ? ago(target.last_seen) : 'never' }),
        el('td', { class: 'error', text: target.last_error || '' }),
        el('td', {}, button));
    }));
    fill(agents, agentsNote, agentList, (agent) => [agent.id, agent.hostname, agent.state,
      agent.connected ? 'yes' : 'no', ago(agent.last_seen), agent.address || '', agent.version || '']);
    fill(callbacks, callbacksNote, callbackList, (callback) => [callback.name, callback.user,
      callback.connected ? 'yes' : 'no', ago(callback.last_seen), callback.address || '']);
  });
}

// A table from a list, or a note saying why there is none (503: not enabled).
// The table is hidden while it has no rows.
function fill(body, note, list, cells) {
  const table = body.parentElement;
  if (list instanceof Error) {
    body.replaceChildren();
    table.hidden = true;
    note.textContent = list.status === 503 || list.status === 404 ? 'Not enabled on this server.' : list.message;
    return;
  }
  table.hidden = list.length === 0;
  note.textContent = list.length === 0 ? 'None.' : '';
  body.replaceChildren(...list.map((item) => el('tr', {}, ...cells(item).map((text) => el('td', { text: String(text ?? '') })))));
}
