// Pipelines (GET /tasks, run with POST /tasks, followed on the job's page)
// and named actions (GET /services, call with POST /actions, followed by
// polling GET /actions/ID).
import { api } from '../api.js';
import { el, every, status } from '../dom.js';

const ACTION_POLL_MS = 1000;

export async function pipelinesPage(main, signal) {
  const pipelines = el('div', { id: 'pipelines', class: 'cards' });
  const services = el('div', { id: 'services', class: 'cards' });
  const followed = el('div', { id: 'action-runs' });
  main.replaceChildren(el('h1', { text: 'Pipelines' }), pipelines, el('h1', { text: 'Actions' }), followed, services);
  const [tasks, drivers] = await Promise.all([
    api('/tasks', { signal }).catch((error) => error),
    api('/services', { signal }).catch((error) => error),
  ]);
  renderPipelines(pipelines, tasks, signal);
  renderServices(services, followed, drivers, signal);
}

function renderPipelines(node, tasks, signal) {
  if (tasks instanceof Error) return node.replaceChildren(el('p', { class: 'error', text: tasks.message }));
  if (!tasks.pipelines || tasks.pipelines.length === 0) {
    return node.replaceChildren(el('p', { class: 'muted', text: 'No pipelines (serve --tasks FILE).' }));
  }
  node.replaceChildren(...tasks.pipelines.map((pipeline) => {
    const duration = el('input', { type: 'number', min: 1, value: 60, class: 'narrow' });
    const run = el('button', { type: 'button', text: 'Run' });
    run.addEventListener('click', async () => {
      try {
        const reply = await api('/tasks', { method: 'POST', body: { name: pipeline.name, duration: Number(duration.value) }, signal });
        location.hash = `#/job/${reply.jid}`;
      } catch (error) {
        status(error.message, true);
      }
    });
    const stages = Object.entries(pipeline.stages || {}).filter(([, list]) => list.length > 0)
      .map(([stage, list]) => el('li', {}, `${stage}: `, list.map((task) => task.name).join(', ')));
    return el('section', { class: 'card', 'data-pipeline': pipeline.name },
      el('h2', { text: pipeline.name }), el('ul', {}, stages),
      el('label', {}, 'Duration (s) ', duration), run);
  }));
}

function renderServices(node, followed, drivers, signal) {
  if (drivers instanceof Error) return node.replaceChildren(el('p', { class: 'error', text: drivers.message }));
  node.replaceChildren(...drivers.map((driver) => el('section', { class: 'card', 'data-service': driver.service },
    el('h2', { text: driver.service }),
    el('p', { class: 'muted', text: driver.description || '' }),
    ...(driver.actions || []).map((action) => actionForm(driver.service, action, followed, signal)))));
}

function actionForm(service, action, followed, signal) {
  const args = el('input', { placeholder: (action.args || []).map((arg) => arg.name || arg).join(', ') || 'args, comma-separated' });
  const call = el('button', { type: 'submit', text: 'Call' });
  const form = el('form', { class: 'action', 'data-action': `${service}:${action.name}` },
    el('strong', { text: action.name }), ' ', el('span', { class: 'muted', text: action.description || '' }), el('br'),
    args, call);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { name: `${service}:${action.name}`, args: args.value.split(',').map((arg) => arg.trim()).filter(Boolean) };
    try {
      const reply = await api('/actions', { method: 'POST', body, signal });
      follow(followed, reply.id, body.name, signal);
    } catch (error) {
      status(error.message, true);
    }
  });
  return form;
}

// Polls an action until it ends, showing its state and result.
function follow(followed, id, name, signal) {
  const line = el('div', { class: 'card action-run', 'data-id': id }, el('code', { text: name }), ' ', el('span', { text: 'pending' }));
  followed.prepend(line);
  const stop = new AbortController();
  signal.addEventListener('abort', () => stop.abort());
  every(ACTION_POLL_MS, stop.signal, async () => {
    const record = await api(`/actions/${id}`, { signal: stop.signal });
    const result = record.result && record.result.jid
      ? el('a', { href: `#/job/${record.result.jid}`, text: `job ${record.result.jid}` })
      : JSON.stringify(record.result ?? '');
    line.replaceChildren(el('code', { text: name }), ' ', el('span', { class: `badge ${record.state}`, text: record.state }), ' ',
      result, record.error ? el('span', { class: 'error', text: ` ${record.error}` }) : '');
    if (record.state === 'succeeded' || record.state === 'failed') stop.abort();
  });
}
